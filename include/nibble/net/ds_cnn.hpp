#pragma once
// DS-CNN as MLPerf Tiny's keyword-spotting reference defines it
// (mlcommons/tiny, benchmark/training/keyword_spotting, after Zhang et al.
// 2017, "Hello Edge"): 49×10 MFCC features of one channel; a 10×4
// convolution of 64 filters at stride 2, batch norm, ReLU and dropout 0.2;
// four depthwise-separable blocks of 64 channels (3×3 depthwise, batch
// norm, ReLU, 1×1 convolution, batch norm, ReLU); dropout 0.4, average
// pooling and a dense classifier of 12 keywords. 23,756 trainable
// parameters for 12 classes (the count the model zoos give), 2,656,768
// multiply-adds per inference.
// Keras pads the first convolution "same": 4 rows above and 5 below, one
// column either side, for a 25×5 output; here 5 rows either side give the
// same 25×5 (the sampled rows shift by one). Its pooling takes 24×5 of the
// 25×5 outputs; here the whole map.
#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/depthwise_conv2d.hpp"
#include "nibble/layers/dropout.hpp"
#include "nibble/layers/global_avg_pool.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/net/sequential.hpp"

namespace nibble {

template <std::size_t Classes, quant_scheme S>
using ds_cnn = sequential<input<1, 49, 10>,
    conv2d<64, window{10, 4}, S, 2, window{5, 1}>, batch_norm_relu, dropout<0.2f>,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<64, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<64, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<64, 1, S, 1, 0>, batch_norm_relu,
    depthwise_conv2d<3, S>, batch_norm_relu, conv2d<64, 1, S, 1, 0>, batch_norm_relu,
    dropout<0.4f>,
    global_avg_pool,
    linear<Classes, S>>;

}  // namespace nibble
