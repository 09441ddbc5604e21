#pragma once
// A differentiable quantizer in the style of Differentiable Soft
// Quantization (Gong et al., 2019): between two neighbouring levels lo < hi
// (in code units) the staircase's step is replaced by a scaled tanh,
//
//   φ(x) = lo + (hi − lo) · ½ · (1 + tanh(κ (x − m) / Δ) / tanh(κ / 2)),
//   m = (lo + hi) / 2, Δ = hi − lo, κ = 1 / temperature,
//
// which meets the levels at both ends of the interval (so φ is continuous
// across levels), tends to the identity as κ → 0 and to rounding to the
// nearest level as κ → ∞. Its derivative is the true one,
//
//   φ'(x) = κ / (2 tanh(κ / 2)) · sech²(κ (x − m) / Δ),
//
// the same for uniform and power-of-two levels because κ is taken relative
// to each interval's width. Beyond the largest level φ saturates (φ' = 0).
#include <cmath>
#include <cstddef>
#include <utility>

#include "nibble/kernels/soft_staircase.hpp"

namespace nibble {

struct soft_point {
  float value, slope;
};

// φ and φ' at magnitude a >= 0 between levels lo <= a <= hi.
inline soft_point soft_step(float a, float lo, float hi, float kappa) {
  if (hi <= lo) return {lo, 0.0f};  // at or past the largest level
  const float width = hi - lo, t = std::tanh(kappa * 0.5f);
  const float u = kappa * (a - 0.5f * (lo + hi)) / width, th = std::tanh(u);
  return {lo + width * 0.5f * (1.0f + th / t), kappa / (2.0f * t) * (1.0f - th * th)};
}

// φ and φ' at any x, the levels given by Levels::bracket (odd in x).
template <class Levels>
soft_point soft_quantize(float x, float kappa) {
  const float a = std::fabs(x);
  const auto [lo, hi] = Levels::bracket(std::fmin(a, float(Levels::qmax)));
  const soft_point p = soft_step(a >= float(Levels::qmax) ? float(Levels::qmax) : a, lo, hi, kappa);
  return {std::copysign(p.value, x), a >= float(Levels::qmax) ? 0.0f : p.slope};
}

// The vector form, soft_quantize_n (kernels/soft_staircase.hpp).
using kernels::soft_quantize_n;

}  // namespace nibble
