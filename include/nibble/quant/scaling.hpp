#pragma once
// Scaling policies: the float value of one integer step.
//
//   abs_max_per_tensor, abs_max_per_channel   s = max|W| / qmax (the paper's)
//   percentile_per_tensor<P>, ..._per_channel s = P-th percentile of |W| / qmax:
//                                             the largest weights saturate
//                                             instead of stretching the grid
//   learned_step, learned_step_per_channel    s is trained (LSQ, Esser et al.)
//   no_scaling                                for full-precision schemes
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "nibble/kernels/elementwise.hpp"
#include "nibble/quant/concepts.hpp"

namespace nibble {

namespace detail {
inline float abs_max(const float* w, std::size_t n) { return kernels::abs_max(w, n); }
// An all-zero tensor would give scale 0; any positive scale maps it to 0.
inline float scale_from_abs_max(float m, float qmax) { return m > 0.0f ? m / qmax : 1.0f; }

// The p-th percentile (0 < p <= 100) of |w|: the value with ceil(p/100 · n)
// of the n magnitudes at or below it. The scratch buffer is the thread's, so
// a steady training step allocates nothing.
inline float abs_percentile(const float* w, std::size_t n, float p) {
  if (n == 0) return 0.0f;
  static thread_local std::vector<float> magnitudes;
  magnitudes.resize(n);
  for (std::size_t i = 0; i < n; ++i) magnitudes[i] = std::fabs(w[i]);
  const auto rank = std::size_t(std::ceil(double(p) / 100.0 * double(n)));
  const auto k = std::min(n, std::max<std::size_t>(rank, 1)) - 1;
  std::nth_element(magnitudes.begin(), magnitudes.begin() + std::ptrdiff_t(k), magnitudes.end());
  return magnitudes[k];
}

// LSQ's initial step 2·mean|w| / sqrt(qmax) (Esser et al.).
inline float lsq_initial_step(const float* w, std::size_t n, float qmax) {
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += std::fabs(w[i]);
  const float step = n ? float(2.0 * sum / double(n) / std::sqrt(double(qmax))) : 0.0f;
  return step > 0.0f ? step : 1.0f;
}
}  // namespace detail

// One scale for the whole tensor: s = max|W| / qmax (the paper's choice).
struct abs_max_per_tensor {
  static constexpr bool is_scaling_policy = true;
  static constexpr bool per_channel = false;
  static constexpr bool learned = false;
  static constexpr bool valid = true;
  static std::string describe() { return "abs-max scale per tensor"; }
  static void compute(const float* w, std::size_t rows, std::size_t cols, float qmax, float* scales) {
    scales[0] = detail::scale_from_abs_max(detail::abs_max(w, rows * cols), qmax);
  }
};

// One scale per output channel (row of the weight matrix).
struct abs_max_per_channel {
  static constexpr bool is_scaling_policy = true;
  static constexpr bool per_channel = true;
  static constexpr bool learned = false;
  static constexpr bool valid = true;
  static std::string describe() { return "abs-max scale per channel"; }
  static void compute(const float* w, std::size_t rows, std::size_t cols, float qmax, float* scales) {
    for (std::size_t r = 0; r < rows; ++r)
      scales[r] = detail::scale_from_abs_max(detail::abs_max(w + r * cols, cols), qmax);
  }
};

// One scale per tensor (PerChannel false) or per output channel from the
// P-th percentile of |W|, 50 < P <= 100 (100 is abs-max).
template <float P, bool PerChannel>
struct percentile_scale {
  static constexpr bool is_scaling_policy = true;
  static constexpr bool per_channel = PerChannel;
  static constexpr bool learned = false;
  static constexpr bool valid = P > 50.0f && P <= 100.0f;
  static std::string describe() {
    return fmt::format("{}th-percentile scale per {}", P, PerChannel ? "channel" : "tensor");
  }
  static void compute(const float* w, std::size_t rows, std::size_t cols, float qmax, float* scales) {
    if constexpr (PerChannel) {
      for (std::size_t r = 0; r < rows; ++r)
        scales[r] = detail::scale_from_abs_max(detail::abs_percentile(w + r * cols, cols, P), qmax);
    } else {
      scales[0] = detail::scale_from_abs_max(detail::abs_percentile(w, rows * cols, P), qmax);
    }
  }
};
template <float P>
using percentile_per_tensor = percentile_scale<P, false>;
template <float P>
using percentile_per_channel = percentile_scale<P, true>;

// Learned step size (LSQ): the step is a trainable parameter of the layer,
// one per tensor or per output channel, started at 2·mean|W| / sqrt(qmax)
// (compute() gives that start) and trained with the gradient of Esser et al.
// (quant/learned_step.hpp). Weight gradients pass only inside the range, so
// the scheme's estimator must be clipped_ste.
template <bool PerChannel>
struct learned_step_scale {
  static constexpr bool is_scaling_policy = true;
  static constexpr bool per_channel = PerChannel;
  static constexpr bool learned = true;
  static constexpr bool valid = true;
  static std::string describe() { return std::string("learned step (LSQ) per ") + (PerChannel ? "channel" : "tensor"); }
  static void compute(const float* w, std::size_t rows, std::size_t cols, float qmax, float* scales) {
    if constexpr (PerChannel) {
      for (std::size_t r = 0; r < rows; ++r) scales[r] = detail::lsq_initial_step(w + r * cols, cols, qmax);
    } else {
      scales[0] = detail::lsq_initial_step(w, rows * cols, qmax);
    }
  }
};
using learned_step = learned_step_scale<false>;
using learned_step_per_channel = learned_step_scale<true>;

// For full-precision schemes, which have no integer grid.
struct no_scaling {
  static constexpr bool is_scaling_policy = true;
  static constexpr bool per_channel = false;
  static constexpr bool learned = false;
  static constexpr bool valid = true;
  static std::string describe() { return "no scale"; }
  static void compute(const float*, std::size_t, std::size_t, float, float* scales) { scales[0] = 1.0f; }
};

static_assert(scaling_policy<abs_max_per_tensor>);
static_assert(scaling_policy<abs_max_per_channel>);
static_assert(scaling_policy<no_scaling>);
static_assert(scaling_policy<percentile_per_tensor<99.9f>>);
static_assert(!scaling_policy<percentile_per_tensor<40.0f>>);
static_assert(scaling_policy<learned_step>);

}  // namespace nibble
