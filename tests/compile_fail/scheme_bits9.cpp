// A 9-bit width is outside the supported 2..8.
// expect: the first argument must be a bit-width policy
#include <nibble/quant/scheme.hpp>

using too_wide = nibble::scheme<nibble::bits<9>, nibble::no_clip, nibble::abs_max_per_tensor, nibble::ste>;
static_assert(too_wide::qmax > 0);
