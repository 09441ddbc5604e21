#pragma once
// relu — Represents: y = max(x, 0). Requires: any shape. Ensures: same shape.
#include "nibble/kernels/activation.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble {

template <class In>
struct relu_layer : parameter_free {
  using input_shape = In;
  using output_shape = In;
  static std::string describe() { return "relu"; }
  void forward(const activation& x, activation& y, context&) { kernels::relu_forward(x.size(), x.data(), y.data()); }
  void backward(const activation&, const activation& y, const activation& dy, activation* dx, context&) {
    if (dx) kernels::relu_backward(y.size(), y.data(), dy.data(), dx->data());
  }
};

struct relu {
  template <class In>
  static constexpr bool accepts = true;
  template <class In>
  using bind = relu_layer<In>;
};

}  // namespace nibble
