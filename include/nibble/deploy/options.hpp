#pragma once
// The options of a deployed layer, as named tags after its sizes, e.g.
//
//   deploy::integer_conv2d<64, 3, bits<4>, activation_bits<8>, 1, 1, folded_norm, with_relu, codes_out>
//
// instead of a row of bools. deploy::convert writes them in the order
// below; a spec adds one with `Spec::template with<Tag>`.
#include <type_traits>

namespace nibble::deploy {

struct folded_norm {};  // a batch norm after the layer, folded into a second per-channel epilogue
struct with_relu {};    // a ReLU after it, folded into its last epilogue
struct codes_in {};     // it takes u8 codes on its input grid from the layer before, channels last
struct codes_out {};    // it hands u8 codes on the next integer layer's grid, channels last

template <class Tag, class... Options>
inline constexpr bool has_option = (std::is_same_v<Tag, Options> || ...);

// Spec with Tag added when When holds.
template <bool When, class Spec, class Tag>
using add_option_if = std::conditional_t<When, typename Spec::template with<Tag>, Spec>;

}  // namespace nibble::deploy
