#pragma once
// Convolution over a batch (NCHW) as im2col + GEMM, one image per thread at
// a time: every product is Out × pixels × (channels·k·k), large enough for
// the GEMM to run near peak on one core, and images need no synchronisation
// except the final sum of the weight gradient.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "nibble/kernels/gemm.hpp"
#include "nibble/kernels/im2col.hpp"
#include "nibble/kernels/parallel.hpp"

namespace nibble::kernels {

// Buffers kept by a convolution layer between steps: one column matrix and
// one partial weight gradient per thread, sized on first use.
struct conv_workspace {
  std::vector<std::vector<float, aligned_allocator<float>>> columns;
  std::vector<std::vector<float, aligned_allocator<float>>> partial_grads;
  void reserve(std::size_t threads, std::size_t col_size, std::size_t grad_size) {
    if (columns.size() < threads) columns.resize(threads);
    if (partial_grads.size() < threads) partial_grads.resize(threads);
    for (auto& c : columns)
      if (c.size() < col_size) c.resize(col_size);
    for (auto& g : partial_grads)
      if (g.size() < grad_size) g.resize(grad_size);
  }
};

namespace detail {
inline std::vector<float, aligned_allocator<float>>& forward_columns() {
  static thread_local std::vector<float, aligned_allocator<float>> col;
  return col;
}
}  // namespace detail

// y[n] = W · im2col(x[n]) + bias, for every image n.
inline void conv_forward(const conv_geometry& g, std::size_t out_channels, std::size_t batch, const float* x,
                         const float* w, const float* bias, float* y) {
  const std::size_t in_size = g.channels * g.height * g.width;
  const std::size_t pixels = g.col_cols(), rows = g.col_rows();
  parallel_for(batch, [&](std::size_t n, int) {
    auto& col = detail::forward_columns();
    if (col.size() < rows * pixels) col.resize(rows * pixels);
    im2col(g, x + n * in_size, col.data());
    float* out = y + n * out_channels * pixels;
    for (std::size_t o = 0; o < out_channels; ++o) std::fill(out + o * pixels, out + (o + 1) * pixels, bias[o]);
    gemm(out_channels, pixels, rows, row_major(w, rows), row_major(col.data(), pixels), out, pixels, true);
  });
}

// Given dy, write dW (= Σ_n dy[n] · im2col(x[n])ᵀ), db (= Σ dy) and, when
// dx is not null, dx[n] = col2im(Wᵀ · dy[n]).
inline void conv_backward(const conv_geometry& g, std::size_t out_channels, std::size_t batch, const float* x,
                          const float* w, const float* dy, float* dw, float* db, float* dx, conv_workspace& ws) {
  const std::size_t in_size = g.channels * g.height * g.width;
  const std::size_t pixels = g.col_cols(), rows = g.col_rows();
  const std::size_t wsize = out_channels * rows;
  const std::size_t threads = std::size_t(max_threads());
  ws.reserve(threads, rows * pixels, wsize);
  std::vector<char> used(threads, 0);

  parallel_chunks(batch, [&](std::size_t begin, std::size_t end, int t) {
    float* col = ws.columns[t].data();
    float* partial = ws.partial_grads[t].data();
    used[t] = 1;
    for (std::size_t n = begin; n < end; ++n) {
      const float* dyn = dy + n * out_channels * pixels;
      im2col(g, x + n * in_size, col);
      gemm(out_channels, rows, pixels, row_major(dyn, pixels), transposed(col, pixels), partial, rows, n != begin);
      if (dx) {
        // The column buffer is free again: reuse it for dcol = Wᵀ · dy[n].
        gemm(rows, pixels, out_channels, transposed(w, rows), row_major(dyn, pixels), col, pixels, false);
        float* dxn = dx + n * in_size;
        std::fill(dxn, dxn + in_size, 0.0f);
        col2im(g, col, dxn);
      }
    }
  });

  // Sum the per-thread partial gradients.
  std::fill(dw, dw + wsize, 0.0f);
  for (std::size_t t = 0; t < threads; ++t)
    if (used[t]) {
      const float* p = ws.partial_grads[t].data();
      for (std::size_t i = 0; i < wsize; ++i) dw[i] += p[i];
    }
  for (std::size_t o = 0; o < out_channels; ++o) {
    float s = 0.0f;
    for (std::size_t n = 0; n < batch; ++n) {
      const float* d = dy + (n * out_channels + o) * pixels;
      for (std::size_t p = 0; p < pixels; ++p) s += d[p];
    }
    db[o] = s;
  }
}

}  // namespace nibble::kernels
