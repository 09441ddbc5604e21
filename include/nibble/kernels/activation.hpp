#pragma once
// Element-wise passes: ReLU and its gradient.
#include <cstddef>

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

}  // namespace nibble::kernels
