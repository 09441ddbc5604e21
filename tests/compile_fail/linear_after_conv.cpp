// linear needs a flat input; a convolution's output is not flat.
// expect: cannot take the output shape of the layer before it
#include <nibble/layers/conv2d.hpp>
#include <nibble/layers/linear.hpp>
#include <nibble/net/sequential.hpp>
#include <nibble/quant/presets.hpp>

using namespace nibble;
using net = sequential<input<3, 8, 8>, conv2d<4, 3, paper_4bit>, linear<10, paper_4bit>>;
static_assert(net::size == 2);
