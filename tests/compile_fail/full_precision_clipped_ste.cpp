// clipped_ste needs a quantizer range, which full precision does not have.
// expect: clipped_ste zeroes gradients outside the quantizer's range
#include <nibble/quant/scheme.hpp>

using no_range = nibble::scheme<nibble::full_precision, nibble::no_clip, nibble::no_scaling, nibble::clipped_ste>;
static_assert(!no_range::quantized);
