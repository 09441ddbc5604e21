#pragma once
// max_pool2d<K> — Represents: the maximum over non-overlapping K×K windows.
// Requires: a spatial input at least K×K.
// Ensures: output C × ⌊H/K⌋ × ⌊W/K⌋, as torch's max_pool2d: rows and
// columns past the last whole window are left out (and get no gradient).
#include <cstdint>
#include <vector>

#include "nibble/kernels/pool.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble {

template <class In, std::size_t K>
class max_pool2d_layer : public parameter_free {
  static_assert(!In::is_flat && In::height >= K && In::width >= K,
                "nibble::max_pool2d: the input must be spatial and at least as large as the window.");
  static_assert(K * K <= 256, "nibble::max_pool2d: windows larger than 16x16 are not supported.");

 public:
  using input_shape = In;
  using output_shape = shape<In::channels, In::height / K, In::width / K>;
  static std::string describe() { return "max_pool2d " + std::to_string(K) + "x" + std::to_string(K); }
  void forward(const activation& x, activation& y, context&) {
    argmax_.resize(y.size());
    kernels::max_pool_forward<K>(x.shape(0) * In::channels, In::height, In::width, x.data(), y.data(), argmax_.data());
  }
  void backward(const activation& x, const activation&, const activation& dy, activation* dx, context&) {
    if (dx)
      kernels::max_pool_backward<K>(x.shape(0) * In::channels, In::height, In::width, argmax_.data(), dy.data(),
                                    dx->data());
  }

 private:
  std::vector<std::uint8_t> argmax_;  // where each window's maximum was, for backward
};

template <std::size_t K>
struct max_pool2d {
  static_assert(K > 0, "nibble::max_pool2d: the window must be positive.");
  template <class In>
  static constexpr bool accepts = !In::is_flat && In::height >= K && In::width >= K;
  template <class In>
  using bind = max_pool2d_layer<In, K>;
};

}  // namespace nibble
