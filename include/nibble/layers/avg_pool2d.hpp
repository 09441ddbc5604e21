#pragma once
// avg_pool2d<K, Stride = K> — Represents: the mean over K×K windows, Stride
// apart (overlapping when Stride < K), without padding.
// Requires: a spatial input at least K×K.
// Ensures: output C × ((H − K)/S + 1) × ((W − K)/S + 1): rows and columns
// past the last whole window are left out (and get no gradient), as torch's
// avg_pool2d; dL/dx is each window's dL/dy / K², summed where windows
// overlap. Over the whole image it is global_avg_pool.
#include <string>

#include "nibble/kernels/pool.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble {

template <class In, std::size_t K, std::size_t Stride>
class avg_pool2d_layer : public parameter_free {
  static_assert(!In::is_flat && In::height >= K && In::width >= K,
                "nibble::avg_pool2d: the input must be spatial and at least as large as the window.");

 public:
  using input_shape = In;
  using output_shape = shape<In::channels, (In::height - K) / Stride + 1, (In::width - K) / Stride + 1>;
  static std::string describe() {
    return "avg_pool2d " + std::to_string(K) + "x" + std::to_string(K) + ", stride " + std::to_string(Stride);
  }
  void forward(const activation& x, activation& y, context&) {
    kernels::avg_pool_forward(x.shape(0) * In::channels, In::height, In::width, K, Stride, x.data(), y.data());
  }
  void backward(const activation& x, const activation&, const activation& dy, activation* dx, context&) {
    if (dx)
      kernels::avg_pool_backward(x.shape(0) * In::channels, In::height, In::width, K, Stride, dy.data(),
                                 dx->data());
  }
};

template <std::size_t K, std::size_t Stride = K>
struct avg_pool2d {
  static_assert(K > 0 && Stride > 0, "nibble::avg_pool2d: the window and stride must be positive.");
  template <class In>
  static constexpr bool accepts = !In::is_flat && In::height >= K && In::width >= K;
  template <class In>
  using bind = avg_pool2d_layer<In, K, Stride>;
};

}  // namespace nibble
