// A depthwise convolution has no deployed layer yet: converting a network
// with one says so, rather than keeping the training layer without its
// weights.
// expect: depthwise_conv2d has no deployed form yet
#include <nibble/deploy/convert.hpp>
#include <nibble/layers/conv2d.hpp>
#include <nibble/layers/depthwise_conv2d.hpp>
#include <nibble/layers/global_avg_pool.hpp>
#include <nibble/layers/linear.hpp>
#include <nibble/net/sequential.hpp>

using S = nibble::paper_4bit;
using net = nibble::sequential<nibble::input<2, 4, 4>, nibble::depthwise_conv2d<3, S>, nibble::conv2d<4, 1, S, 1, 0>,
                               nibble::global_avg_pool, nibble::linear<2, S>>;

void deploy(net& n) { auto d = nibble::deploy::convert(n, {{0.5f, 0.5f}, {0.25f, 0.25f}}); }
