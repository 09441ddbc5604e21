// A full-precision scheme has no integer codes: asking for one is an error
// (it used to return 0).
// expect: has no integer codes; its weights are used as they are
#include <nibble/quant/presets.hpp>

int code_of_half = nibble::scheme_for_bits_t<32>::code(0.5f, 1.0f);
