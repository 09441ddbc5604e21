#pragma once
// flatten — Represents: C×H×W viewed as C·H·W features (same memory order).
// Requires: any shape. Ensures: output shape<C·H·W, 1, 1>.
#include <algorithm>

#include "nibble/layers/layer.hpp"

namespace nibble {

template <class In>
struct flatten_layer : parameter_free {
  using input_shape = In;
  using output_shape = shape<In::size, 1, 1>;
  static std::string describe() { return "flatten"; }
  void forward(const activation& x, activation& y, context&) { std::copy(x.begin(), x.end(), y.begin()); }
  void backward(const activation&, const activation&, const activation& dy, activation* dx, context&) {
    if (dx) std::copy(dy.begin(), dy.end(), dx->begin());
  }
};

struct flatten {
  template <class In>
  static constexpr bool accepts = true;
  template <class In>
  using bind = flatten_layer<In>;
};

}  // namespace nibble
