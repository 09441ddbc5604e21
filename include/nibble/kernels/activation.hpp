#pragma once
// Element-wise passes: ReLU and GELU, and their gradients.
#include <cmath>
#include <cstddef>
#include <numbers>

#include "nibble/kernels/parallel.hpp"
#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

inline void relu_forward(std::size_t n, const float* x, float* y) {
  const fvec zero = broadcast(0.0f);
  parallel_chunks(n / fvec_width, [&](std::size_t b, std::size_t e, int) {
    for (std::size_t i = b * fvec_width; i < e * fvec_width; i += fvec_width) store(y + i, select_where(load(x + i) > zero, load(x + i), zero));
  });
  for (std::size_t i = n / fvec_width * fvec_width; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// dx = dy where the output was positive, else 0.
inline void relu_backward(std::size_t n, const float* y, const float* dy, float* dx) {
  const fvec zero = broadcast(0.0f);
  parallel_chunks(n / fvec_width, [&](std::size_t b, std::size_t e, int) {
    for (std::size_t i = b * fvec_width; i < e * fvec_width; i += fvec_width)
      store(dx + i, select_where(load(y + i) > zero, load(dy + i), zero));
  });
  for (std::size_t i = n / fvec_width * fvec_width; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

// GELU, exact (erf) form as torch.nn.functional.gelu's default:
// y = x·Φ(x) with Φ(x) = (1 + erf(x/√2)) / 2.
inline void gelu_forward(std::size_t n, const float* x, float* y) {
  const fvec half = broadcast(0.5f), one = broadcast(1.0f), inv_sqrt2 = broadcast(float(std::numbers::sqrt2 / 2));
  parallel_chunks(n / fvec_width, [&](std::size_t b, std::size_t e, int) {
    for (std::size_t i = b * fvec_width; i < e * fvec_width; i += fvec_width) {
      const fvec v = load(x + i);
      store(y + i, half * v * (one + xsimd::erf(v * inv_sqrt2)));
    }
  });
  for (std::size_t i = n / fvec_width * fvec_width; i < n; ++i)
    y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * float(std::numbers::sqrt2 / 2)));
}

// dx = dy·(Φ(x) + x·φ(x)), φ the standard normal density; needs the input.
inline void gelu_backward(std::size_t n, const float* x, const float* dy, float* dx) {
  constexpr float inv_sqrt2 = float(std::numbers::sqrt2 / 2);
  constexpr float inv_sqrt_2pi = float(std::numbers::inv_sqrtpi * std::numbers::sqrt2 / 2);
  const fvec half = broadcast(0.5f), one = broadcast(1.0f), minus_half = broadcast(-0.5f);
  parallel_chunks(n / fvec_width, [&](std::size_t b, std::size_t e, int) {
    for (std::size_t i = b * fvec_width; i < e * fvec_width; i += fvec_width) {
      const fvec v = load(x + i);
      const fvec cdf = half * (one + xsimd::erf(v * broadcast(inv_sqrt2)));
      const fvec pdf = broadcast(inv_sqrt_2pi) * xsimd::exp(minus_half * v * v);
      store(dx + i, load(dy + i) * fma(v, pdf, cdf));
    }
  });
  for (std::size_t i = n / fvec_width * fvec_width; i < n; ++i) {
    const float cdf = 0.5f * (1.0f + std::erf(x[i] * inv_sqrt2));
    dx[i] = dy[i] * (cdf + x[i] * inv_sqrt_2pi * std::exp(-0.5f * x[i] * x[i]));
  }
}

}  // namespace nibble::kernels
