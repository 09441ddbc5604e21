#pragma once
// global_avg_pool — Represents: the mean of each channel over its pixels.
// Requires: any input C×H×W. Ensures: output shape<C, 1, 1>.
#include "nibble/kernels/pool.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble {

template <class In>
struct global_avg_pool_layer : parameter_free {
  using input_shape = In;
  using output_shape = shape<In::channels, 1, 1>;
  static std::string describe() { return "global_avg_pool"; }
  void forward(const activation& x, activation& y, context&) {
    kernels::global_avg_pool_forward(x.shape(0) * In::channels, In::height * In::width, x.data(), y.data());
  }
  void backward(const activation& x, const activation&, const activation& dy, activation* dx, context&) {
    if (dx) kernels::global_avg_pool_backward(x.shape(0) * In::channels, In::height * In::width, dy.data(), dx->data());
  }
};

struct global_avg_pool {
  template <class In>
  static constexpr bool accepts = true;
  template <class In>
  using bind = global_avg_pool_layer<In>;
};

}  // namespace nibble
