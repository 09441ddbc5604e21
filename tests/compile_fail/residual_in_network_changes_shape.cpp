// The same shape-changing residual block inside a network is reported by
// the network, at the block's position.
// expect: (layer_cannot_take_its_input<1, nibble::residual.*must produce the same shape as its input)|(must produce the same shape as its input.*layer_cannot_take_its_input<1, nibble::residual)
#include <nibble/layers/conv2d.hpp>
#include <nibble/layers/relu.hpp>
#include <nibble/net/residual.hpp>
#include <nibble/net/sequential.hpp>
#include <nibble/quant/presets.hpp>

using namespace nibble;
using net = sequential<input<4, 6, 6>, relu, residual<conv2d<4, 3, float32_scheme, 2>>>;
static_assert(net::size == 2);
