#pragma once
// The gradient of a learned step size (LSQ, Esser et al., "Learned Step
// Size Quantization", 2020). With v̂ = clamp(round(v / s), −Q, Q) · s,
//
//   ∂v̂/∂s = round(v/s) − v/s   inside the range (|v/s| < Q)
//         = ±Q                  where v saturates (the sign of v)
//
// (rounding passed straight through), and the step's gradient is scaled by
// g = 1 / sqrt(N · Q), N the number of values sharing the step, so that the
// step learns at the pace of the weights. Inside the range ∂v̂/∂v = 1 and
// outside 0: the clipped straight-through estimator.
#include <cmath>
#include <cstddef>

namespace nibble {

// g · Σ dv̂_i · ∂v̂_i/∂s over the n values v sharing step s.
inline float learned_step_gradient(const float* v, const float* dv_hat, std::size_t n, float s, float q) {
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float x = v[i] / s;
    float d;
    if (x <= -q) d = -q;
    else if (x >= q) d = q;
    else d = std::nearbyint(x) - x;
    sum += double(dv_hat[i]) * double(d);
  }
  return float(sum / std::sqrt(double(n) * double(q)));
}

}  // namespace nibble
