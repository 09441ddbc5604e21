#pragma once
// y = a_c·x + b_c per channel of an (N, C, P) tensor, then max(y, 0) when
// Relu. It is the last pass of batch norm in training and of every deployed
// conv or linear layer (batch norm folded in), so both lives of a network
// end a layer with the same instructions.
#include <cstddef>

#include "nibble/kernels/parallel.hpp"
#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

struct channel_geometry {
  std::size_t batch, channels, pixels;
};

// y[i] = a·x[i] + b (then max(·, 0) when Relu) for i < n: one channel of
// one image. Callers that fuse it into their own loops (deployed integer
// layers) round exactly as channel_affine does. x may equal y.
template <bool Relu>
void affine_row(float a, float b, const float* x, float* y, std::size_t n) {
  const fvec av = broadcast(a), bv = broadcast(b), zero = broadcast(0.0f);
  const std::size_t vn = n / fvec_width * fvec_width;
  for (std::size_t i = 0; i < vn; i += fvec_width) {
    fvec v = fma(av, load(x + i), bv);
    if constexpr (Relu) v = select_where(v > zero, v, zero);
    store(y + i, v);
  }
  for (std::size_t i = vn; i < n; ++i) {
    const float v = a * x[i] + b;
    y[i] = Relu ? (v > 0.0f ? v : 0.0f) : v;
  }
}

// coefficients(c) returns {a_c, b_c}; it is called once per channel, so
// callers can derive them on the fly without a buffer. x may equal y.
template <bool Relu, class Coefficients>
void channel_affine(const channel_geometry& g, Coefficients&& coefficients, const float* x, float* y) {
  parallel_for(g.channels, [&](std::size_t c, int) {
    const auto [a, b] = coefficients(c);
    for (std::size_t n = 0; n < g.batch; ++n) {
      const std::size_t offset = (n * g.channels + c) * g.pixels;
      affine_row<Relu>(a, b, x + offset, y + offset, g.pixels);
    }
  });
}

}  // namespace nibble::kernels
