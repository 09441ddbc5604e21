#pragma once
// Gradient estimators: d(quantize(w))/dw as used in the backward pass.
#include <cmath>
#include <limits>
#include <string>

#include "nibble/quant/concepts.hpp"

namespace nibble {

// Straight-through: rounding is treated as the identity, dL/dW = dL/dWq.
struct ste {
  static constexpr bool is_gradient_estimator = true;
  static constexpr bool needs_quantizer = false;
  static constexpr bool is_identity = true;
  static std::string describe() { return "STE"; }
  static float derivative(float, float, float) { return 1.0f; }
};

// Clipped straight-through: gradient passes only where w lies inside the
// quantizer's range [-qmax*s, qmax*s]; it is zero where clamping saturates.
struct clipped_ste {
  static constexpr bool is_gradient_estimator = true;
  static constexpr bool needs_quantizer = true;
  static constexpr bool is_identity = false;
  static std::string describe() { return "clipped STE"; }
  static float derivative(float w, float scale, float qmax) {
    // The slack keeps the largest weight inside: s = max|W|/qmax may round
    // so that qmax·s lands one ulp below max|W|.
    return std::fabs(w) <= qmax * scale * (1.0f + 4.0f * std::numeric_limits<float>::epsilon()) ? 1.0f : 0.0f;
  }
};

static_assert(gradient_estimator<ste>);
static_assert(gradient_estimator<clipped_ste>);

}  // namespace nibble
