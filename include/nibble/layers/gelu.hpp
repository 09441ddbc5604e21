#pragma once
// gelu — Represents: y = x·Φ(x), Φ the standard normal CDF (the exact form,
// as torch.nn.GELU()). Requires: any shape. Ensures: same shape; backward
// needs the input, which sequential keeps.
#include "nibble/kernels/activation.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble {

template <class In>
struct gelu_layer : parameter_free {
  using input_shape = In;
  using output_shape = In;
  static std::string describe() { return "gelu"; }
  void forward(const activation& x, activation& y, context&) { kernels::gelu_forward(x.size(), x.data(), y.data()); }
  void backward(const activation& x, const activation&, const activation& dy, activation* dx, context&) {
    if (dx) kernels::gelu_backward(x.size(), x.data(), dy.data(), dx->data());
  }
};

struct gelu {
  template <class In>
  static constexpr bool accepts = true;
  template <class In>
  using bind = gelu_layer<In>;
};

}  // namespace nibble
