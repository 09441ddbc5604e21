// Power-of-two activations have no deployed grid yet: converting a network
// that uses them says so.
// expect: power-of-two activations cannot be deployed yet
#include <nibble/deploy/convert.hpp>
#include <nibble/layers/conv2d.hpp>
#include <nibble/layers/flatten.hpp>
#include <nibble/layers/linear.hpp>
#include <nibble/net/sequential.hpp>
#include <nibble/quant/presets.hpp>

using s = nibble::with_activations_t<nibble::paper_4bit, nibble::power_of_two_activations<4>>;
using net = nibble::sequential<nibble::input<1, 4, 4>, nibble::conv2d<2, 3, s>, nibble::flatten, nibble::linear<2, s>>;

void deploy(net& n) { auto d = nibble::deploy::convert(n, {{0.5f}, {0.25f}}); }
