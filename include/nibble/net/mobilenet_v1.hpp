#pragma once
// A MobileNetV1 (Howard et al. 2017) of width 0.5 for 32×32 images: a 3×3
// convolution of 16 channels at stride 1 (ImageNet's stride 2 would leave
// too little of a CIFAR image), then thirteen depthwise-separable blocks —
// a 3×3 depthwise convolution, batch norm and ReLU, a 1×1 (pointwise)
// convolution, batch norm and ReLU, one block a line below — at 32, 64,
// 64, 128, 128, 256, 5 × 256, 512 and 512 channels, the second, fourth,
// sixth and twelfth at stride 2 (32×32 down to 2×2), then global average
// pooling and a linear classifier. 829,194 trainable parameters for 10
// classes, 12.2 M multiply-adds per image (ResNet-8's 12.5 M), nearly all
// of them in the pointwise convolutions.
#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/depthwise_conv2d.hpp"
#include "nibble/layers/global_avg_pool.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/net/sequential.hpp"

namespace nibble {

template <std::size_t Classes, quant_scheme S>
using mobilenet_v1 = sequential<input<3, 32, 32>,
    conv2d<16, 3, S>, batch_norm_relu,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<32, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S, 2>, batch_norm_relu, conv2d<64, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<64, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S, 2>, batch_norm_relu, conv2d<128, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<128, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S, 2>, batch_norm_relu, conv2d<256, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<256, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<256, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<256, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<256, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<256, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S, 2>, batch_norm_relu, conv2d<512, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<512, 1, S, 1, 0>, batch_norm_relu,
    global_avg_pool,
    linear<Classes, S>>;

}  // namespace nibble
