// Power-of-two activations must stop their gradient at the top level: the
// plain straight-through estimator, which passes it on, is refused.
// expect: power_of_two_activations<N, E> with 2 <= N <= 4 and E a soft staircase or clipped_ste
#include <nibble/quant/presets.hpp>

using s = nibble::with_activations_t<nibble::paper_4bit, nibble::power_of_two_activations<4, nibble::ste>>;
s::bit_width* unused = nullptr;
