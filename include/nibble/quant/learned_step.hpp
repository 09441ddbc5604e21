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

#include "nibble/kernels/elementwise.hpp"

namespace nibble {

// Σ dv̂_i · ∂v̂_i/∂s over n values v on a grid of step s from −qn to qp
// codes (before the gradient scale). Vectorised and threaded in fixed
// blocks, so the sum is the same for any number of threads.
inline double learned_step_sum(const float* v, const float* dv_hat, std::size_t n, float s, float qn, float qp) {
  using namespace kernels;
  return blocked_sum(n, [&](std::size_t b, std::size_t e) {
    const fvec vs = broadcast(s), low = broadcast(-qn), high = broadcast(qp);
    fvec acc = broadcast(0.0f);
    const std::size_t vector_end = b + (e - b) / fvec_width * fvec_width;
    for (std::size_t i = b; i < vector_end; i += fvec_width) {
      const fvec x = load(v + i) / vs;
      const fvec d = select_where(x <= low, low, select_where(x >= high, high, xsimd::nearbyint(x) - x));
      acc = fma(load(dv_hat + i), d, acc);
    }
    double sum = reduce_add(acc);
    for (std::size_t i = vector_end; i < e; ++i) {
      const float x = v[i] / s;
      const float d = x <= -qn ? -qn : x >= qp ? qp : std::nearbyint(x) - x;
      sum += double(dv_hat[i]) * double(d);
    }
    return sum;
  });
}

// g · Σ dv̂_i · ∂v̂_i/∂s over the n weights v sharing step s, levels ±q.
inline float learned_step_gradient(const float* v, const float* dv_hat, std::size_t n, float s, float q) {
  return float(learned_step_sum(v, dv_hat, n, s, q, q) / std::sqrt(double(n) * double(q)));
}

}  // namespace nibble
