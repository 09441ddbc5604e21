// Activations of 9 bits are outside the supported 2..8.
// expect: the optional sixth argument must be an activation policy
#include <nibble/quant/scheme.hpp>

using too_wide = nibble::scheme<nibble::bits<4>, nibble::no_clip, nibble::abs_max_per_tensor, nibble::ste,
                                nibble::fp32_arithmetic, nibble::activation_bits<9>>;
static_assert(too_wide::qmax > 0);
