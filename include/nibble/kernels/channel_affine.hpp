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

// coefficients(c) returns {a_c, b_c}; it is called once per channel, so
// callers can derive them on the fly without a buffer. x may equal y.
template <bool Relu, class Coefficients>
void channel_affine(const channel_geometry& g, Coefficients&& coefficients, const float* x, float* y) {
  parallel_for(g.channels, [&](std::size_t c, int) {
    const auto [a, b] = coefficients(c);
    const fvec av = broadcast(a), bv = broadcast(b), zero = broadcast(0.0f);
    const std::size_t vn = g.pixels / fvec_width * fvec_width;
    for (std::size_t n = 0; n < g.batch; ++n) {
      const float* xp = x + (n * g.channels + c) * g.pixels;
      float* yp = y + (n * g.channels + c) * g.pixels;
      for (std::size_t i = 0; i < vn; i += fvec_width) {
        fvec v = fma(av, load(xp + i), bv);
        if constexpr (Relu) v = select_where(v > zero, v, zero);
        store(yp + i, v);
      }
      for (std::size_t i = vn; i < g.pixels; ++i) {
        const float v = a * xp[i] + b;
        yp[i] = Relu ? (v > 0.0f ? v : 0.0f) : v;
      }
    }
  });
}

}  // namespace nibble::kernels
