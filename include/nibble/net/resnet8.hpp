#pragma once
// ResNet-8 as MLPerf Tiny's image-classification reference defines it
// (mlcommons/tiny, benchmark/training/image_classification/keras_model.py,
// 16 filters): a 3×3 convolution of 16 channels, one basic block at 16
// channels, then one downsampling block at 32 and one at 64 whose shortcut
// is a 1×1 stride-2 convolution without batch norm, 8×8 average pooling
// (global here) and a dense classifier. Every convolution in a body is
// followed by batch norm, every block by ReLU. 78,186 trainable parameters
// for 10 classes, and 480 batch-norm running statistics: the 78,666 Keras
// counts. 12.5 M multiply-adds per image.
// Keras pads a stride-2 "same" convolution at the bottom and right only;
// nibble pads every side by one, so the sampled pixels shift by one.
#include "nibble/layers/global_avg_pool.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/layers/relu.hpp"
#include "nibble/net/resnet_blocks.hpp"
#include "nibble/net/sequential.hpp"

namespace nibble {

template <std::size_t Classes, quant_scheme Scheme>
using resnet8 = sequential<input<3, 32, 32>,
    conv2d<16, 3, Scheme>, batch_norm_relu,
    basic_block<16, Scheme>, relu,
    downsampling_block<32, Scheme, projection<conv2d<32, 1, Scheme, 2, 0>>>, relu,
    downsampling_block<64, Scheme, projection<conv2d<64, 1, Scheme, 2, 0>>>, relu,
    global_avg_pool,
    linear<Classes, Scheme>>;

}  // namespace nibble
