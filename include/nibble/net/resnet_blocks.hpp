#pragma once
// The basic blocks of the CIFAR ResNets (He et al. 2016, §4.2), as specs:
//
//   basic_block<C, Scheme>: y = x + bn(conv3x3(relu(bn(conv3x3(x))))), C
//     channels in and out; the ReLU after the sum is the network's spec.
//   downsampling_block<C, Scheme, Shortcut...>: the same with the first
//     convolution at stride 2 and C channels out, the input taken to the
//     output's shape by the Shortcut chain (option B): by default a 1×1
//     stride-2 convolution and batch norm; MLPerf Tiny's ResNet-8 has no
//     batch norm there.
#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/net/residual.hpp"

namespace nibble {

template <std::size_t Channels, quant_scheme Scheme>
using basic_block = residual<conv2d<Channels, 3, Scheme>, batch_norm_relu, conv2d<Channels, 3, Scheme>, batch_norm>;

template <std::size_t Channels, quant_scheme Scheme>
using projection_shortcut = projection<conv2d<Channels, 1, Scheme, 2, 0>, batch_norm>;

template <std::size_t Channels, quant_scheme Scheme, class Shortcut = projection_shortcut<Channels, Scheme>>
using downsampling_block = residual<Shortcut, conv2d<Channels, 3, Scheme, 2>, batch_norm_relu,
                                    conv2d<Channels, 3, Scheme>, batch_norm>;

}  // namespace nibble
