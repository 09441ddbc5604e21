// linear needs a flat input; a convolution's output is not flat. The
// errors name the position (1), the layer and its own reason.
// expect: (layer_cannot_take_its_input<1, nibble::linear<10.*put flatten or global_avg_pool before it)|(put flatten or global_avg_pool before it.*layer_cannot_take_its_input<1, nibble::linear<10)
#include <nibble/layers/conv2d.hpp>
#include <nibble/layers/linear.hpp>
#include <nibble/net/sequential.hpp>
#include <nibble/quant/presets.hpp>

using namespace nibble;
using net = sequential<input<3, 8, 8>, conv2d<4, 3, paper_4bit>, linear<10, paper_4bit>>;
static_assert(net::size == 2);
