// A W8A8 linear layer with 70,000 inputs could overflow an int32 sum:
// 70,000 x 255 x 128 > 2^31.
// expect: does not fit the int32 accumulator
#include <nibble/layers/linear.hpp>
#include <nibble/quant/presets.hpp>

using too_wide = nibble::linear<10, nibble::w8a8>::bind<nibble::shape<70000, 1, 1>>;
too_wide* layer = nullptr;
static_assert(too_wide::fan_in == 70000);
