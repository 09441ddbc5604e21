#pragma once
// The vector loops of the quantizers' own gradients: a learned step's (LSQ,
// quant/learned_step.hpp) and a learned clip level's (PACT,
// quant/input_quantizer.hpp). Sums run in fixed blocks (blocked_sum), so
// they are the same for any number of threads.
#include <cmath>
#include <cstddef>

#include "nibble/kernels/elementwise.hpp"
#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

// Σ dv̂_i · ∂v̂_i/∂s over n values v on a grid of step s from −qn to qp
// codes (before the gradient scale). Vectorised and threaded in fixed
// blocks, so the sum is the same for any number of threads.
inline double learned_step_sum(const float* v, const float* dv_hat, std::size_t n, float s, float qn, float qp) {
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

// PACT's clip level α: Σ over the n values of dx̂/dα · dx, where x̂ clips
// at the top (x/step ≥ qp: dx̂/dα = 1) and at the bottom (x/step ≤ −qn:
// dx̂/dα = −qn/qp); dx is zeroed there (dx̂/dx = 0) and kept inside.
inline double clip_level_sum(const float* x, float* dx, std::size_t n, float step, float qn, float qp) {
  return blocked_sum(n, [&](std::size_t b, std::size_t e) {
    const float bottom_slope = -qn / qp;  // dx̂/dα at the bottom
    const fvec vstep = broadcast(step), top = broadcast(qp), bottom = broadcast(-qn),
               slope = broadcast(bottom_slope), none = broadcast(0.0f);
    fvec acc = none;
    std::size_t i = b;
    for (; i + fvec_width <= e; i += fvec_width) {
      const fvec v = load(x + i) / vstep, d = load(dx + i);
      const auto above = v >= top, below = v <= bottom;
      acc += select_where(above, d, select_where(below, d * slope, none));
      store(dx + i, select_where(above || below, none, d));
    }
    double sum = reduce_add(acc);
    for (; i < e; ++i) {
      const float v = x[i] / step;
      float& d = dx[i];
      if (v >= qp || v <= -qn) {
        sum += double(v >= qp ? d : d * bottom_slope);
        d = 0.0f;
      }
    }
    return sum;
  });
}

}  // namespace nibble::kernels
