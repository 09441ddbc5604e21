#pragma once
// The gradient of a learned step size (LSQ, Esser et al., "Learned Step
// Size Quantization", 2020). With v̂ = clamp(round(v / s), −Q, Q) · s,
//
//   ∂v̂/∂s = round(v/s) − v/s   inside the range (|v/s| < Q)
//         = ±Q                  where v saturates (the sign of v)
//
// (rounding passed straight through), and the step's gradient is scaled by
// g = 1 / sqrt(N · Q), N the number of weights sharing the step (for
// activations, the number of features of one sample), so that the step
// learns at the pace of the weights. Inside the range ∂v̂/∂v = 1 and
// outside 0: the clipped straight-through estimator.
#include <cmath>
#include <cstddef>

#include "nibble/kernels/quantizer_gradients.hpp"

namespace nibble {

// g · Σ dv̂_i · ∂v̂_i/∂s over the n weights v sharing step s, levels ±q.
inline float learned_step_gradient(const float* v, const float* dv_hat, std::size_t n, float s, float q) {
  return float(kernels::learned_step_sum(v, dv_hat, n, s, q, q) / std::sqrt(double(n) * double(q)));
}

}  // namespace nibble
