#pragma once
// deploy::link_code_grids(net)
//
// An integer conv2d that hands codes on (integer_conv2d.hpp, CodesOut)
// makes them on the input grid of the integer layer that takes them. That
// grid belongs to the taker (a model file holds it once, there), so it is
// copied to the giver here: after deploy::convert and after a model file
// is read. Walks the layers from last to first, descending into blocks
// (their body and their shortcut, chains of their own).
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "nibble/kernels/activation_codes.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble::deploy {

template <class Net>
void link_code_grids(Net& net) {
  std::optional<kernels::code_grid> next;  // the input grid of the nearest integer layer after this one
  const auto link = [&](auto& l) {
    using L = std::remove_cvref_t<decltype(l)>;
    if constexpr (requires { l.body(); }) link_code_grids(l.body());
    if constexpr (requires { l.shortcut(); }) link_code_grids(l.shortcut());
    if constexpr (requires { L::codes_out; }) {
      if constexpr (L::codes_out) {
        if (!next)
          throw std::logic_error("nibble::deploy: an integer conv2d hands codes on, but no integer layer takes them");
        l.output_grid = *next;
      }
    }
    if constexpr (requires { l.grid(); })
      next = l.grid();
    else if constexpr (!std::is_same_v<input_tensor_t<L>, code_activation>)
      next.reset();  // only layers that pass codes through (pools) keep it
  };
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (link(net.template layer<Net::size - 1 - I>()), ...);
  }(std::make_index_sequence<Net::size>{});
}

}  // namespace nibble::deploy
