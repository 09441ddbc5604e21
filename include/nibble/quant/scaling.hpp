#pragma once
// Scaling policies: the float value of one integer step.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include "nibble/kernels/elementwise.hpp"
#include "nibble/quant/concepts.hpp"

namespace nibble {

namespace detail {
inline float abs_max(const float* w, std::size_t n) { return kernels::abs_max(w, n); }
// An all-zero tensor would give scale 0; any positive scale maps it to 0.
inline float scale_from_abs_max(float m, float qmax) { return m > 0.0f ? m / qmax : 1.0f; }
}  // namespace detail

// One scale for the whole tensor: s = max|W| / qmax (the paper's choice).
struct abs_max_per_tensor {
  static constexpr bool is_scaling_policy = true;
  static constexpr bool per_channel = false;
  static std::string describe() { return "abs-max scale per tensor"; }
  static void compute(const float* w, std::size_t rows, std::size_t cols, float qmax, float* scales) {
    scales[0] = detail::scale_from_abs_max(detail::abs_max(w, rows * cols), qmax);
  }
};

// One scale per output channel (row of the weight matrix).
struct abs_max_per_channel {
  static constexpr bool is_scaling_policy = true;
  static constexpr bool per_channel = true;
  static std::string describe() { return "abs-max scale per channel"; }
  static void compute(const float* w, std::size_t rows, std::size_t cols, float qmax, float* scales) {
    for (std::size_t r = 0; r < rows; ++r)
      scales[r] = detail::scale_from_abs_max(detail::abs_max(w + r * cols, cols), qmax);
  }
};

// For full-precision schemes, which have no integer grid.
struct no_scaling {
  static constexpr bool is_scaling_policy = true;
  static constexpr bool per_channel = false;
  static std::string describe() { return "no scale"; }
  static void compute(const float*, std::size_t, std::size_t, float, float* scales) { scales[0] = 1.0f; }
};

static_assert(scaling_policy<abs_max_per_tensor>);
static_assert(scaling_policy<abs_max_per_channel>);
static_assert(scaling_policy<no_scaling>);

}  // namespace nibble
