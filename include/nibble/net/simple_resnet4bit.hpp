#pragma once
// SimpleResNet4bit from the same paper: conv(16), one residual block at 16
// channels, conv(32, stride 2), conv(32), conv(64, stride 2), conv(64),
// global average pooling and a linear classifier; every convolution is
// followed by batch norm and ReLU.
#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/global_avg_pool.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/layers/relu.hpp"
#include "nibble/net/residual.hpp"
#include "nibble/net/sequential.hpp"

namespace nibble {

template <std::size_t Classes, quant_scheme Scheme>
using simple_resnet4bit = sequential<input<3, 32, 32>,
    conv2d<16, 3, Scheme>, batch_norm_relu,
    residual<conv2d<16, 3, Scheme>, batch_norm_relu, conv2d<16, 3, Scheme>, batch_norm>, relu,
    conv2d<32, 3, Scheme, 2>, batch_norm_relu,
    conv2d<32, 3, Scheme>, batch_norm_relu,
    conv2d<64, 3, Scheme, 2>, batch_norm_relu,
    conv2d<64, 3, Scheme>, batch_norm_relu,
    global_avg_pool,
    linear<Classes, Scheme>>;

}  // namespace nibble
