// LSQ's weight gradient is zero outside the quantizer's range; plain STE
// would contradict the learned step.
// expect: a learned step \(LSQ\) lets weight gradients through only inside
#include <nibble/quant/scheme.hpp>

using contradiction = nibble::scheme<nibble::bits<4>, nibble::no_clip, nibble::learned_step, nibble::ste>;
static_assert(contradiction::qmax > 0);
