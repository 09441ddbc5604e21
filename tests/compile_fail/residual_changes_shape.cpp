// The body of a residual block must keep its input's shape: here it turns
// 4 channels into 8.
// expect: the block's layers must produce the same shape as its input
#include <nibble/layers/conv2d.hpp>
#include <nibble/net/residual.hpp>
#include <nibble/quant/presets.hpp>

using namespace nibble;
using block = residual<conv2d<8, 3, float32_scheme>>::bind<shape<4, 6, 6>>;
static_assert(block::parameter_count > 0);
