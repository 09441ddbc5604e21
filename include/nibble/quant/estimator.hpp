#pragma once
// Gradient estimators: d(quantize(w))/dw as used in the backward pass.
//
//   ste                      rounding treated as the identity
//   clipped_ste              the same inside the quantizer's range, 0 outside
//   soft_staircase<T0, T1>   no estimate: training quantizes with a soft
//                            staircase (quant/soft_staircase.hpp) whose
//                            temperature falls from T0 to T1 over the run,
//                            and backward takes its true derivative;
//                            evaluation and deployment use the hard one
#include <cmath>
#include <limits>
#include <string>

#include <fmt/core.h>

#include "nibble/quant/concepts.hpp"

namespace nibble {

// Straight-through: rounding is treated as the identity, dL/dW = dL/dWq.
struct ste {
  static constexpr bool is_gradient_estimator = true;
  static constexpr bool needs_quantizer = false;
  static constexpr bool is_identity = true;
  static constexpr bool soft = false;
  static constexpr bool valid = true;
  static std::string describe() { return "STE"; }
  static float derivative(float, float, float) { return 1.0f; }
};

// Clipped straight-through: gradient passes only where w lies inside the
// quantizer's range [-qmax*s, qmax*s]; it is zero where clamping saturates.
struct clipped_ste {
  static constexpr bool is_gradient_estimator = true;
  static constexpr bool needs_quantizer = true;
  static constexpr bool is_identity = false;
  static constexpr bool soft = false;
  static constexpr bool valid = true;
  static std::string describe() { return "clipped STE"; }
  static float derivative(float w, float scale, float qmax) {
    // The slack keeps the largest weight inside: s = max|W|/qmax may round
    // so that qmax·s lands one ulp below max|W|.
    return std::fabs(w) <= qmax * scale * (1.0f + 4.0f * std::numeric_limits<float>::epsilon()) ? 1.0f : 0.0f;
  }
};

// The soft quantizer's temperature falls geometrically from T0 at the start
// of training to T1 at its end (T0 >= T1 > 0); 1 is nearly the identity,
// 0.02 nearly the staircase.
template <float T0, float T1>
struct soft_staircase {
  static constexpr bool is_gradient_estimator = true;
  static constexpr bool needs_quantizer = true;
  static constexpr bool is_identity = false;
  static constexpr bool soft = true;
  static constexpr bool valid = T1 > 0.0f && T0 >= T1;
  static std::string describe() { return fmt::format("soft staircase (temperature {} to {})", T0, T1); }
  // At `progress` (0: the first step, 1: the end of training).
  static float temperature(float progress) {
    const float p = std::fmin(std::fmax(progress, 0.0f), 1.0f);
    return T0 * std::pow(T1 / T0, p);
  }
  // Unused: the soft quantizer's own derivative replaces it (scheme.hpp).
  static float derivative(float, float, float) { return 1.0f; }
};

static_assert(gradient_estimator<ste>);
static_assert(gradient_estimator<clipped_ste>);
static_assert(gradient_estimator<soft_staircase<1.0f, 0.02f>>);
static_assert(!gradient_estimator<soft_staircase<0.1f, 0.5f>>);

}  // namespace nibble
