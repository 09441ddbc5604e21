// LSQ's step gradient assumes uniform levels.
// expect: a learned step \(LSQ\) has its gradient derived for uniform levels
#include <nibble/quant/scheme.hpp>

using mismatch = nibble::scheme<nibble::power_of_two<4>, nibble::no_clip, nibble::learned_step, nibble::clipped_ste>;
static_assert(mismatch::qmax > 0);
