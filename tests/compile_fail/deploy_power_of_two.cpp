// Power-of-two weights have no deployed code store yet: converting such a
// network says so instead of packing codes that do not fit.
// expect: power-of-two weights cannot be deployed yet
#include <nibble/deploy/convert.hpp>
#include <nibble/layers/conv2d.hpp>
#include <nibble/layers/flatten.hpp>
#include <nibble/layers/linear.hpp>
#include <nibble/net/sequential.hpp>

using pot = nibble::scheme<nibble::power_of_two<4>, nibble::no_clip, nibble::abs_max_per_tensor, nibble::ste>;
using net = nibble::sequential<nibble::input<1, 4, 4>, nibble::conv2d<2, 3, pot>, nibble::flatten, nibble::linear<2, pot>>;

void deploy(net& n) { auto d = nibble::deploy::convert(n, {{0.5f}, {0.25f}}); }
