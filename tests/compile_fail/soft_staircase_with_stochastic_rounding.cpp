// The soft staircase replaces rounding in training: stochastic rounding
// would never happen.
// expect: a soft staircase replaces rounding in training
#include <nibble/quant/scheme.hpp>

using unused = nibble::scheme<nibble::power_of_two<4>, nibble::no_clip, nibble::abs_max_per_tensor,
                              nibble::soft_staircase<0.5f, 0.05f>, nibble::stochastic_rounding>;
static_assert(unused::qmax > 0);
