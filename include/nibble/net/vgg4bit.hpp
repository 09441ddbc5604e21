#pragma once
// VGG4bit from "True 4-Bit Quantized CNN Training on CPU": three stages of
// two 3×3 convolutions (64, 128, 256 channels) with batch norm and ReLU,
// each followed by 2×2 max pooling, then linear(512)·BN·ReLU·dropout(0.5)
// and a linear classifier. 3,251,018 parameters for 10 classes.
// batch_norm_relu is batch_norm followed by relu, fused into one pass.
#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/dropout.hpp"
#include "nibble/layers/flatten.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/layers/max_pool2d.hpp"
#include "nibble/layers/relu.hpp"
#include "nibble/net/sequential.hpp"

namespace nibble {

template <std::size_t Classes, quant_scheme Scheme>
using vgg4bit = sequential<input<3, 32, 32>,
    conv2d<64, 3, Scheme>, batch_norm_relu,
    conv2d<64, 3, Scheme>, batch_norm_relu,
    max_pool2d<2>,
    conv2d<128, 3, Scheme>, batch_norm_relu,
    conv2d<128, 3, Scheme>, batch_norm_relu,
    max_pool2d<2>,
    conv2d<256, 3, Scheme>, batch_norm_relu,
    conv2d<256, 3, Scheme>, batch_norm_relu,
    max_pool2d<2>,
    flatten,
    linear<512, Scheme>, batch_norm_relu, dropout<0.5f>,
    linear<Classes, Scheme>>;

}  // namespace nibble
