// Activations of 9 bits are outside the supported 2..8.
// expect: every argument after the fourth must be an option
#include <nibble/quant/scheme.hpp>

using too_wide = nibble::scheme<nibble::bits<4>, nibble::no_clip, nibble::abs_max_per_tensor, nibble::ste,
                                nibble::fp32_arithmetic, nibble::activation_bits<9>>;
static_assert(too_wide::qmax > 0);
