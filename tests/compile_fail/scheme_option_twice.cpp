// Two rounding policies in one scheme: which one would it use?
// expect: an option kind is given twice
#include <nibble/quant/scheme.hpp>

using ambiguous = nibble::scheme<nibble::bits<4>, nibble::no_clip, nibble::abs_max_per_tensor, nibble::ste,
                                 nibble::stochastic_rounding, nibble::round_to_nearest>;
static_assert(ambiguous::qmax > 0);
