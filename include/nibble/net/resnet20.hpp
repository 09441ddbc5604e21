#pragma once
// ResNet-20 for CIFAR (He et al. 2016, §4.2): a 3×3 convolution of 16
// channels, three stages of three basic blocks at 16, 32 and 64 channels
// (32×32, 16×16, 8×8; the first block of the second and third stages
// downsamples, with a projection shortcut, option B), global average
// pooling and a linear classifier. Every convolution is followed by batch
// norm, every block by ReLU. 273,258 parameters for 10 classes (0.27 M in
// the paper, which pads its shortcuts with zeros instead); 40.8 M
// multiply-adds per image.
#include "nibble/layers/global_avg_pool.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/layers/relu.hpp"
#include "nibble/net/resnet_blocks.hpp"
#include "nibble/net/sequential.hpp"

namespace nibble {

template <std::size_t Classes, quant_scheme Scheme>
using resnet20 = sequential<input<3, 32, 32>,
    conv2d<16, 3, Scheme>, batch_norm_relu,
    basic_block<16, Scheme>, relu, basic_block<16, Scheme>, relu, basic_block<16, Scheme>, relu,
    downsampling_block<32, Scheme>, relu, basic_block<32, Scheme>, relu, basic_block<32, Scheme>, relu,
    downsampling_block<64, Scheme>, relu, basic_block<64, Scheme>, relu, basic_block<64, Scheme>, relu,
    global_avg_pool,
    linear<Classes, Scheme>>;

}  // namespace nibble
