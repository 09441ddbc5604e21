#pragma once
// FastVGG: a VGG shaped for short training runs, after the network of the
// fastest CIFAR-10 recipes (airbench): a 32-channel stem, then three stages
// (64, 256, 256 channels) of two 3×3 convolutions, with the 2×2 pooling
// between a stage's two, so that its second convolution runs at the lower
// resolution; no hidden linear layer and no dropout, a global max pool and
// a linear classifier. Every convolution is followed by batch norm and ReLU.
// It costs about as many multiply-adds per image as VGG4bit (152 million
// against 155) with 0.6 of its parameters (1,979,210 for 10 classes).
#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/flatten.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/layers/max_pool2d.hpp"
#include "nibble/layers/relu.hpp"
#include "nibble/net/sequential.hpp"

namespace nibble {

template <std::size_t Classes, quant_scheme Scheme>
using fast_vgg = sequential<input<3, 32, 32>,
    conv2d<32, 3, Scheme>, batch_norm_relu,
    conv2d<64, 3, Scheme>, batch_norm_relu, max_pool2d<2>,
    conv2d<64, 3, Scheme>, batch_norm_relu,
    conv2d<256, 3, Scheme>, batch_norm_relu, max_pool2d<2>,
    conv2d<256, 3, Scheme>, batch_norm_relu,
    conv2d<256, 3, Scheme>, batch_norm_relu, max_pool2d<2>,
    conv2d<256, 3, Scheme>, batch_norm_relu,
    max_pool2d<4>,
    flatten,
    linear<Classes, Scheme>>;

}  // namespace nibble
