#pragma once
// Depthwise convolution: channel c of the output is channel c of the input
// convolved with filter c alone (K×K, stride, zero padding), NCHW.
//
// Each output row is built kernel tap by kernel tap: for a tap (ky, kx)
// the valid output columns are one contiguous range, over which the
// compiler vectorises y[ox] += w · x[ox·s + kx − p] (stride 1: a shifted
// row). The work is K² multiply-adds per output value, so these loops,
// not a GEMM, are the right shape: there is no reduction over channels.
// Images and channels are split across threads; the weight gradient of a
// channel is summed over the batch by one thread, in order, so results do
// not depend on the thread count.
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "nibble/kernels/im2col.hpp"
#include "nibble/kernels/parallel.hpp"

namespace nibble::kernels {

namespace detail {
// The output columns [first, last) whose tap kx lands inside the input row.
inline void tap_columns(const conv_geometry& g, std::size_t kx, std::size_t& first, std::size_t& last) {
  const std::size_t ow = g.out_width();
  // ox·s + kx − p >= 0  and  ox·s + kx − p < width
  first = kx >= g.padding ? 0 : (g.padding - kx + g.stride - 1) / g.stride;
  const std::size_t limit = g.width + g.padding;  // ox·s + kx < width + p
  last = kx >= limit ? 0 : std::min(ow, (limit - kx + g.stride - 1) / g.stride);
  first = std::min(first, last);
}
}  // namespace detail

// y[n][c] = w[c] ⋆ x[n][c] (+ bias[c] if bias is not null).
inline void depthwise_forward(const conv_geometry& g, std::size_t batch, const float* x, const float* w,
                              const float* bias, float* y) {
  const std::size_t oh = g.out_height(), ow = g.out_width(), k = g.kernel, s = g.stride;
  parallel_for(batch * g.channels, [&](std::size_t nc, int) {
    const std::size_t c = nc % g.channels;
    const float* in = x + nc * g.height * g.width;
    float* out = y + nc * oh * ow;
    std::fill(out, out + oh * ow, bias ? bias[c] : 0.0f);
    for (std::size_t oy = 0; oy < oh; ++oy) {
      float* row = out + oy * ow;
      for (std::size_t ky = 0; ky < k; ++ky) {
        const std::ptrdiff_t iy = std::ptrdiff_t(oy * s + ky) - std::ptrdiff_t(g.padding);
        if (iy < 0 || iy >= std::ptrdiff_t(g.height)) continue;
        const float* line = in + std::size_t(iy) * g.width;
        for (std::size_t kx = 0; kx < k; ++kx) {
          const float wv = w[(c * k + ky) * k + kx];
          std::size_t first, last;
          detail::tap_columns(g, kx, first, last);
          // Column ox·s + kx − p of the input, inside it for ox in [first, last).
          if (s == 1)
            for (std::size_t ox = first; ox < last; ++ox) row[ox] += wv * line[ox + kx - g.padding];
          else
            for (std::size_t ox = first; ox < last; ++ox) row[ox] += wv * line[ox * s + kx - g.padding];
        }
      }
    }
  });
}

// dw[c] = Σ_n dy[n][c] ⋆ x[n][c], db[c] = Σ dy[n][c] (overwritten), and,
// if dx is not null, dx[n][c] = the transposed convolution of dy[n][c]
// with w[c] (overwritten).
inline void depthwise_backward(const conv_geometry& g, std::size_t batch, const float* x, const float* w,
                               const float* dy, float* dw, float* db, float* dx) {
  const std::size_t oh = g.out_height(), ow = g.out_width(), k = g.kernel, s = g.stride;
  const std::size_t in_size = g.height * g.width, out_size = oh * ow;
  parallel_for(g.channels, [&](std::size_t c, int) {
    float* dwc = dw + c * k * k;
    std::fill(dwc, dwc + k * k, 0.0f);
    double bias_sum = 0.0;
    for (std::size_t n = 0; n < batch; ++n) {
      const float* in = x + (n * g.channels + c) * in_size;
      const float* grad = dy + (n * g.channels + c) * out_size;
      float* din = dx ? dx + (n * g.channels + c) * in_size : nullptr;
      if (din) std::fill(din, din + in_size, 0.0f);
      for (std::size_t i = 0; i < out_size; ++i) bias_sum += grad[i];
      for (std::size_t oy = 0; oy < oh; ++oy) {
        const float* grow = grad + oy * ow;
        for (std::size_t ky = 0; ky < k; ++ky) {
          const std::ptrdiff_t iy = std::ptrdiff_t(oy * s + ky) - std::ptrdiff_t(g.padding);
          if (iy < 0 || iy >= std::ptrdiff_t(g.height)) continue;
          const float* line = in + std::size_t(iy) * g.width;
          float* dline = din ? din + std::size_t(iy) * g.width : nullptr;
          for (std::size_t kx = 0; kx < k; ++kx) {
            std::size_t first, last;
            detail::tap_columns(g, kx, first, last);
            float acc = 0.0f;
            for (std::size_t ox = first; ox < last; ++ox) acc += grow[ox] * line[ox * s + kx - g.padding];
            dwc[ky * k + kx] += acc;
            if (dline) {
              const float wv = w[(c * k + ky) * k + kx];
              for (std::size_t ox = first; ox < last; ++ox) dline[ox * s + kx - g.padding] += wv * grow[ox];
            }
          }
        }
      }
    }
    db[c] = float(bias_sum);
  });
}

}  // namespace nibble::kernels
