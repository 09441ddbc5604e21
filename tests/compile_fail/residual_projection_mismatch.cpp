// A residual block's shortcut and its layers must give the same shape: here
// the shortcut keeps the image's size and the layers halve it.
// expect: and its layers must produce the same shape, so that their outputs can be added
#include <nibble/layers/conv2d.hpp>
#include <nibble/net/residual.hpp>
#include <nibble/quant/presets.hpp>

using namespace nibble;
using block = residual<projection<conv2d<8, 1, float32_scheme, 1, 0>>, conv2d<8, 3, float32_scheme, 2>>::bind<shape<4, 6, 6>>;
static_assert(block::parameter_count > 0);
