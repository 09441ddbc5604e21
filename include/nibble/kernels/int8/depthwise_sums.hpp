#pragma once
// The int32 sums of a depthwise convolution on u8 codes: channel c's output
// is its own plane of codes against its own K×K weight codes (s8).
//
// The plane comes framed by the padding, filled with the input's zero
// point, so every tap reads a code and the sums are the uncentred Σ c·w the
// integer layers correct by z·Σw (deploy/integer_matrix.hpp). Output row
// by output row, tap by tap, the compiler vectorises
// out[ox] += w · plane[ox·s + kx]: K² multiply-adds per output, no
// reduction over channels, so these loops and not a GEMM.
#include <cstddef>
#include <cstdint>

#include "nibble/kernels/im2col.hpp"

namespace nibble::kernels::int8 {

// out (out_height × out_width sums) = the plane (height + 2·padding rows of
// width + 2·padding codes, g's geometry) convolved with w (K×K codes).
inline void depthwise_sums(const conv_geometry& g, const std::uint8_t* plane, const std::int8_t* w,
                           std::int32_t* out) {
  const std::size_t oh = g.out_height(), ow = g.out_width(), k = g.kernel, s = g.stride;
  const std::size_t wp = g.width + 2 * g.padding;
  for (std::size_t oy = 0; oy < oh; ++oy) {
    std::int32_t* row = out + oy * ow;
    for (std::size_t ox = 0; ox < ow; ++ox) row[ox] = 0;
    for (std::size_t ky = 0; ky < k; ++ky) {
      const std::uint8_t* line = plane + (oy * s + ky) * wp;
      for (std::size_t kx = 0; kx < k; ++kx) {
        const std::int32_t wv = w[ky * k + kx];
        const std::uint8_t* from = line + kx;
        if (s == 1)
          for (std::size_t ox = 0; ox < ow; ++ox) row[ox] += wv * std::int32_t(from[ox]);
        else
          for (std::size_t ox = 0; ox < ow; ++ox) row[ox] += wv * std::int32_t(from[ox * s]);
      }
    }
  }
}

}  // namespace nibble::kernels::int8
