#pragma once
// y = a_c·x + b_c per channel of an (N, C, P) tensor, then max(y, 0) when
// Relu. It is the last pass of batch norm in training and of every deployed
// conv or linear layer (batch norm folded in), so both lives of a network
// end a layer with the same instructions.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "nibble/kernels/parallel.hpp"
#include "nibble/kernels/scaled_sums.hpp"
#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

struct channel_geometry {
  std::size_t batch, channels, pixels;
};

// The lanes of a·x + b (then max(·, 0) when Relu): the one instruction
// every element of every affine pass goes through.
template <bool Relu>
inline fvec affine_lanes(fvec a, fvec x, fvec b) {
  const fvec v = fma(a, x, b);
  if constexpr (Relu) return select_where(v > broadcast(0.0f), v, broadcast(0.0f));
  return v;
}

// y[i] = a·x[i] + b (then max(·, 0) when Relu) for i < n: one channel of
// one image. Callers that fuse it into their own loops (deployed integer
// layers) round exactly as channel_affine does. x may equal y.
//
// The tail goes through affine_lanes too (in a lane buffer): a scalar
// a·x + b may or may not be fused into one rounding, depending on the
// compiler's flags, and deployed integer convolutions compute the same
// elements pixel by pixel, across channels, with affine_lanes.
template <bool Relu>
void affine_row(float a, float b, const float* x, float* y, std::size_t n) {
  const fvec av = broadcast(a), bv = broadcast(b);
  const std::size_t vn = n / fvec_width * fvec_width;
  for (std::size_t i = 0; i < vn; i += fvec_width) store(y + i, affine_lanes<Relu>(av, load(x + i), bv));
  if (vn < n) {
    alignas(simd_alignment) float lanes[fvec_width] = {};
    std::copy(x + vn, x + n, lanes);
    store(lanes, affine_lanes<Relu>(av, load(lanes), bv));
    std::copy(lanes, lanes + (n - vn), y + vn);
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

// One pixel's integer sums of n channels side by side (a pixel-major
// integer convolution, deploy/integer_matrix.hpp): y[r] = a[r]·(acc[r] −
// zero_sums[r]) + b[r] (scaled_sums_across), then with Norm the folded
// batch norm (and Relu), vectors across channels, each element through the
// same steps as the channel-by-channel rows, so both orders agree bit for
// bit. n is a multiple of the vector width.
template <bool Norm, bool Relu>
void centred_affine_across(const std::int32_t* acc, const std::int32_t* zero_sums, std::size_t n, const float* a,
                           const float* b, const float* norm_a, const float* norm_b, float* y) {
  using ivec = xsimd::batch<std::int32_t>;
  static_assert(ivec::size == fvec_width);
  for (std::size_t r = 0; r < n; r += fvec_width) {
    const ivec centred = ivec::load_unaligned(acc + r) - ivec::load_unaligned(zero_sums + r);
    store(y + r, xsimd::batch_cast<float>(centred));
  }
  scaled_sums_across(a, b, y, y, n);
  if constexpr (Norm)
    for (std::size_t r = 0; r < n; r += fvec_width)
      store(y + r, affine_lanes<Relu>(load(norm_a + r), load(y + r), load(norm_b + r)));
}

}  // namespace nibble::kernels
