#pragma once
// Vectorised, threaded passes over flat float arrays: the per-step work on
// parameters (fake quantization, optimizer update, clips, norms), which is
// small next to the convolutions but runs once per weight per step.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nibble/core/counter_random.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

// Splits [0, n) into vector-aligned chunks, one per thread; small arrays
// stay on the calling thread.
template <class F>
void for_chunks(std::size_t n, F&& f) {
  if (n < (1u << 16) || in_parallel()) {
    f(std::size_t{0}, n);
    return;
  }
  const std::size_t blocks = (n + fvec_width - 1) / fvec_width;
  parallel_chunks(blocks, [&](std::size_t b, std::size_t e, int) { f(b * fvec_width, std::min(n, e * fvec_width)); });
}

// Σ f(b, e) over fixed blocks [b, e) of [0, n): the blocks are spread over
// the threads and their sums added in block order, so that the result does
// not depend on the number of threads (f must return the block's sum).
template <class F>
double blocked_sum(std::size_t n, F&& f) {
  constexpr std::size_t block = std::size_t{1} << 14;
  const std::size_t blocks = (n + block - 1) / block;
  if (blocks <= 1 || in_parallel()) {
    double sum = 0;
    for (std::size_t k = 0; k < blocks; ++k) sum += f(k * block, std::min(n, (k + 1) * block));
    return sum;
  }
  thread_local std::vector<double> partial_sums;  // grows once: a steady step allocates nothing
  std::vector<double>& partial = partial_sums;     // this thread's, for the workers to fill
  if (partial.size() < blocks) partial.resize(blocks);
  parallel_for(blocks, [&](std::size_t k, int) { partial[k] = f(k * block, std::min(n, (k + 1) * block)); });
  double sum = 0;
  for (std::size_t k = 0; k < blocks; ++k) sum += partial[k];
  return sum;
}

// max/min through select: GCC 12 warns falsely on its own AVX-512 max/min
// intrinsics (an "uninitialized" undefined-vector operand).
inline fvec vmax(fvec a, fvec b) { return select_where(a > b, a, b); }
inline fvec vclamp(fvec x, fvec lo, fvec hi) { return select_where(x < lo, lo, select_where(x > hi, hi, x)); }

inline float abs_max(const float* w, std::size_t n) {
  const std::size_t vn = n / fvec_width * fvec_width;
  fvec m = broadcast(0.0f);
  for (std::size_t i = 0; i < vn; i += fvec_width) m = vmax(m, xsimd::abs(load(w + i)));
  alignas(simd_alignment) float lanes[fvec_width];
  m.store_aligned(lanes);
  float r = *std::max_element(lanes, lanes + fvec_width);
  for (std::size_t i = vn; i < n; ++i) r = std::max(r, std::fabs(w[i]));
  return r;
}

// wq = clamp(nearbyint(w / s), −qmax, qmax) · s.
inline void fake_quantize(const float* w, float* wq, std::size_t n, float s, float qmax) {
  for_chunks(n, [&](std::size_t b, std::size_t e) {
    const fvec sv = broadcast(s), lo = broadcast(-qmax), hi = broadcast(qmax);
    const std::size_t ve = b + (e - b) / fvec_width * fvec_width;
    std::size_t i = b;
    for (; i < ve; i += fvec_width)
      store(wq + i, vclamp(xsimd::nearbyint(load(w + i) / sv), lo, hi) * sv);
    for (; i < e; ++i) wq[i] = std::clamp(std::nearbyint(w[i] / s), -qmax, qmax) * s;
  });
}

// wq = clamp(floor(w / s + u_i), −qmax, qmax) · s with u_i = uniform01(key,
// first + i): rounds up with probability frac(w / s). Each element's draw
// depends only on its index, so the threads' split changes nothing.
inline void fake_quantize_stochastic(const float* w, float* wq, std::size_t n, float s, float qmax, std::uint64_t key,
                                     std::uint64_t first) {
  for_chunks(n, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i)
      wq[i] = std::clamp(std::floor(w[i] / s + uniform01(key, first + i)), -qmax, qmax) * s;
  });
}

// w = clamp(c·tanh(w / c), −inside, inside), inside = the float just below c.
inline void tanh_clip(float* w, std::size_t n, float c) {
  const float inside = std::nextafter(c, 0.0f);
  for_chunks(n, [&](std::size_t b, std::size_t e) {
    const fvec cv = broadcast(c), lo = broadcast(-inside), hi = broadcast(inside);
    const std::size_t ve = b + (e - b) / fvec_width * fvec_width;
    std::size_t i = b;
    for (; i < ve; i += fvec_width) store(w + i, vclamp(cv * xsimd::tanh(load(w + i) / cv), lo, hi));
    for (; i < e; ++i) w[i] = std::clamp(c * std::tanh(w[i] / c), -inside, inside);
  });
}

inline void hard_clip(float* w, std::size_t n, float c) {
  for_chunks(n, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) w[i] = std::clamp(w[i], -c, c);
  });
}

inline double sum_of_squares(const float* g, std::size_t n) {
  fvec acc = broadcast(0.0f);
  std::size_t i = 0;
  double total = 0.0;
  for (; i + fvec_width <= n; i += fvec_width) {
    const fvec v = load(g + i);
    acc = fma(v, v, acc);
    if ((i / fvec_width) % 4096 == 4095) {  // keep float partial sums short
      total += double(reduce_add(acc));
      acc = broadcast(0.0f);
    }
  }
  total += double(reduce_add(acc));
  for (; i < n; ++i) total += double(g[i]) * double(g[i]);
  return total;
}

inline void scale(float* g, std::size_t n, float factor) {
  for_chunks(n, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) g[i] *= factor;
  });
}

// One AdamW update as torch.optim.AdamW: decoupled decay, then the
// bias-corrected Adam step. step_size = lr / (1 − β1^t), inv_sqrt_c2 = 1/√(1 − β2^t).
struct adamw_constants {
  float beta1, beta2, epsilon, decay, step_size, inv_sqrt_c2;
};
inline void adamw_update(float* w, const float* g, float* m, float* v, std::size_t n, const adamw_constants& k) {
  for_chunks(n, [&](std::size_t b, std::size_t e) {
    const fvec b1 = broadcast(k.beta1), b2 = broadcast(k.beta2), one_b1 = broadcast(1.0f - k.beta1),
               one_b2 = broadcast(1.0f - k.beta2), eps = broadcast(k.epsilon), decay = broadcast(k.decay),
               step = broadcast(k.step_size), isc = broadcast(k.inv_sqrt_c2);
    const std::size_t ve = b + (e - b) / fvec_width * fvec_width;
    std::size_t i = b;
    for (; i < ve; i += fvec_width) {
      const fvec gi = load(g + i);
      const fvec mi = b1 * load(m + i) + one_b1 * gi;
      const fvec vi = b2 * load(v + i) + one_b2 * gi * gi;
      store(m + i, mi);
      store(v + i, vi);
      store(w + i, load(w + i) * decay - step * mi / (xsimd::sqrt(vi) * isc + eps));
    }
    for (; i < e; ++i) {
      m[i] = k.beta1 * m[i] + (1.0f - k.beta1) * g[i];
      v[i] = k.beta2 * v[i] + (1.0f - k.beta2) * g[i] * g[i];
      w[i] = w[i] * k.decay - k.step_size * m[i] / (std::sqrt(v[i]) * k.inv_sqrt_c2 + k.epsilon);
    }
  });
}

}  // namespace nibble::kernels
