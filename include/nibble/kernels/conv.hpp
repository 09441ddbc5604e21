#pragma once
// Convolution over a batch (NCHW) as im2col + GEMM, one image per thread at
// a time: every product is Out × pixels × (channels·k·k), large enough for
// the GEMM to run near peak on one core, and images need no synchronisation
// except the final sum of the weight gradient.
#include <algorithm>
#include <utility>
#include <cstddef>
#include <vector>

#include "nibble/kernels/direct_conv.hpp"
#include "nibble/kernels/direct_weight_gradient.hpp"
#include "nibble/kernels/gemm.hpp"
#include "nibble/kernels/im2col.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/kernels/plan.hpp"
#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

// What a forward convolution keeps between steps: its weights packed for
// the im2col GEMM or for the direct kernel, whichever the geometry takes.
template <bool Bf16 = false>
struct conv_forward_workspace {
  static constexpr bool bf16 = Bf16 && bf16_available;
  detail::packed_a_matrix<Bf16> packed_w;
  direct_conv<Bf16> direct;
};

// Buffers kept by a convolution layer's backward pass between steps, sized
// on first use: flipped weights and their forward workspace for the input
// gradient, and (stride > 1 only) one column matrix per thread.
template <bool Bf16 = false>
struct conv_workspace {
  static constexpr bool bf16 = Bf16 && bf16_available;
  std::vector<float> flipped;
  conv_forward_workspace<Bf16> flipped_forward;
  direct_weight_gradient<Bf16> weight_gradient;
  std::vector<std::vector<float, aligned_allocator<float>>> columns;
  std::vector<std::vector<float>> partials;  // per-thread weight gradients (thin layers)
  std::vector<char> partial_used;
  void reserve_partials(std::size_t threads, std::size_t size) {
    partials.resize(std::max(partials.size(), threads));
    partial_used.resize(partials.size(), 0);
    for (auto& p : partials) p.resize(size);
  }
  void reserve(std::size_t threads, std::size_t col_size) {
    if (columns.size() < threads) columns.resize(threads);
    for (auto& c : columns)
      if (c.size() < col_size) c.resize(col_size);
  }
};

// dst[r] = src[(ox + r)·stride + kx − padding] for r < run, 0 where that
// falls outside the image row `src`.
inline void copy_image_run(const conv_geometry& g, const float* src, std::size_t ox, std::size_t kx, std::size_t run,
                           float* dst) {
  const std::ptrdiff_t ix0 = std::ptrdiff_t(ox * g.stride + kx) - std::ptrdiff_t(g.padding_width);
  if (g.stride == 1) {
    // Contiguous: zeros where the window hangs over the left or right
    // border, one copy for the rest.
    const std::ptrdiff_t w = std::ptrdiff_t(g.width), len = std::ptrdiff_t(run);
    const std::ptrdiff_t lo = std::clamp<std::ptrdiff_t>(-ix0, 0, len);
    const std::ptrdiff_t hi = std::clamp<std::ptrdiff_t>(w - ix0, lo, len);
    for (std::ptrdiff_t r = 0; r < lo; ++r) dst[r] = 0.0f;
    copy_short(dst + lo, src + ix0 + lo, std::size_t(hi - lo));
    for (std::ptrdiff_t r = hi; r < len; ++r) dst[r] = 0.0f;
  } else {
    for (std::size_t r = 0; r < run; ++r) {
      const std::ptrdiff_t ix = ix0 + std::ptrdiff_t(r * g.stride);
      dst[r] = (ix >= 0 && ix < std::ptrdiff_t(g.width)) ? src[ix] : 0.0f;
    }
  }
}

// Packs B = im2col(image) block by block, straight from the image, so the
// column matrix is never written out: the forward GEMM reads each input
// pixel from cache instead of a 9× larger buffer from memory. With Bf16 (and
// hardware for it) it writes bf16 pairs of rows. Used for the geometries
// direct_conv.hpp does not take (strided convolutions, odd row widths).
template <bool Bf16 = false>
struct im2col_packer {
  static constexpr bool bf16 = Bf16 && bf16_available;
  conv_geometry g;
  const float* image;

  // Where one row (c, ky, kx) of the im2col matrix reads from. Decoded once
  // per block, not once per panel: the divisions cost more than the copy.
  struct row_source {
    const float* plane;
    std::size_t ky, kx;
  };

  // dst[q] = im2col row `r`, columns starting at output pixel (oy, ox), for
  // q < cols; zeros up to NR.
  void fill_row(const row_source& r, std::size_t oy, std::size_t ox, std::size_t cols, float* dst) const {
    using gemm_config::NR;
    const std::size_t ow = g.out_width();
    std::size_t q = 0;
    while (q < cols) {  // one run per output row
      const std::size_t run = std::min(cols - q, ow - ox);
      const std::ptrdiff_t iy = std::ptrdiff_t(oy * g.stride + r.ky) - std::ptrdiff_t(g.padding);
      if (iy < 0 || iy >= std::ptrdiff_t(g.height))
        std::fill(dst + q, dst + q + run, 0.0f);
      else
        copy_image_run(g, r.plane + std::size_t(iy) * g.width, ox, r.kx, run, dst + q);
      q += run;
      ox = 0;
      ++oy;
    }
    std::fill(dst + cols, dst + NR, 0.0f);
  }

  void operator()(std::size_t k0, std::size_t j0, std::size_t kc, std::size_t nc, float* out) const {
    using gemm_config::NR;
    const std::size_t ow = g.out_width(), kk = g.taps();
    row_source rows[gemm_config::KC];
    for (std::size_t k = 0; k < kc; ++k) {
      const std::size_t row = k0 + k;
      rows[k] = {image + row / kk * g.height * g.width, row % kk / g.kernel_width, row % g.kernel_width};
    }
    for (std::size_t j = 0; j < nc; j += NR) {
      const std::size_t cols = std::min(NR, nc - j), oy = (j0 + j) / ow, ox = (j0 + j) % ow;
      if constexpr (!bf16) {
        for (std::size_t k = 0; k < kc; ++k) fill_row(rows[k], oy, ox, cols, out + k * NR);
        out += NR * kc;
      } else {
        alignas(64) float even[NR], odd[NR];
        auto* out32 = reinterpret_cast<std::uint32_t*>(out);
        const std::size_t kc2 = (kc + 1) / 2;
        for (std::size_t kp = 0; kp < kc2; ++kp) {
          fill_row(rows[2 * kp], oy, ox, cols, even);
          if (2 * kp + 1 < kc)
            fill_row(rows[2 * kp + 1], oy, ox, cols, odd);
          else
            std::fill(odd, odd + NR, 0.0f);
          pack_bf16_rows(even, odd, out32 + kp * NR, NR);
        }
        out += NR * kc2;
      }
    }
  }
};

// y[n] = W · im2col(x[n]) + bias, for every image n, by `kernel`: the
// direct kernel (on AMX tiles or vectors) where it fits, else a GEMM with W
// packed once and shared by all images and threads. A bf16 workspace makes
// the product bf16. The plan (plan.hpp) chooses the kernel unless given.
template <bool Bf16>
void conv_forward(const conv_geometry& g, std::size_t out_channels, std::size_t batch, const float* x,
                  const float* w, const float* bias, float* y, conv_forward_workspace<Bf16>& ws,
                  conv_kernel kernel) {
  if (kernel == conv_kernel::direct || kernel == conv_kernel::direct_tiles) {
    ws.direct.forward(g, out_channels, batch, x, w, bias, y, kernel == conv_kernel::direct_tiles);
    return;
  }
  const std::size_t in_size = g.channels * g.height * g.width;
  const std::size_t pixels = g.col_cols(), rows = g.col_rows();
  auto& packed_w = ws.packed_w;
  packed_w.pack(row_major(w, rows), out_channels, rows);
  parallel_for(batch, [&](std::size_t n, int) {
    float* out = y + n * out_channels * pixels;
    for (std::size_t o = 0; o < out_channels; ++o)
      std::fill(out + o * pixels, out + (o + 1) * pixels, bias ? bias[o] : 0.0f);
    detail::gemm_serial_packed(out_channels, pixels, rows, std::as_const(packed_w),
                               im2col_packer<Bf16>{g, x + n * in_size}, out, pixels, true);
  });
}
template <bool Bf16>
void conv_forward(const conv_geometry& g, std::size_t out_channels, std::size_t batch, const float* x,
                  const float* w, const float* bias, float* y, conv_forward_workspace<Bf16>& ws) {
  conv_forward(g, out_channels, batch, x, w, bias, y, ws, plan_conv_forward(g, out_channels, Bf16));
}

// For stride 1 the input gradient is itself a convolution: of dy with the
// weights transposed (in and out channels swapped) and flipped, padded by
// K − 1 − P. This writes those weights: w_t[c][o][K-1-ky][K'-1-kx] = w[o][c][ky][kx]
// (kk = K·K' taps: reversing a filter's taps flips both ways).
inline void flip_transpose_weights(std::size_t out_channels, std::size_t in_channels, std::size_t kk,
                                   const float* w, float* w_t) {
  for (std::size_t o = 0; o < out_channels; ++o)
    for (std::size_t c = 0; c < in_channels; ++c)
      for (std::size_t i = 0; i < kk; ++i) w_t[(c * out_channels + o) * kk + (kk - 1 - i)] = w[(o * in_channels + c) * kk + i];
}

// Writes one line of kc values (one row of an A sliver or one column of a B
// panel) into packed layout: lane `lane` of a block `width` wide, as floats or
// as bf16 pairs of consecutive k.
template <bool Bf16>
inline void scatter_line(const float* line, std::size_t kc, float* out, std::size_t lane, std::size_t width) {
  if constexpr (Bf16) {
    auto* out32 = reinterpret_cast<std::uint32_t*>(out);
    alignas(64) std::uint32_t pairs[gemm_config::KC / 2 + 1];
    pack_bf16_line(line, kc, pairs);
    for (std::size_t kp = 0; 2 * kp < kc; ++kp) out32[kp * width + lane] = pairs[kp];
  } else {
    for (std::size_t k = 0; k < kc; ++k) out[k * width + lane] = line[k];
  }
}
template <bool Bf16>
inline std::size_t packed_depth(std::size_t kc) {
  return Bf16 ? (kc + 1) / 2 : kc;
}

// Packs A = [dy[0] dy[1] …] (out_channels × batch·pixels) for the weight
// gradient, whose K dimension runs over every pixel of every image.
template <bool Bf16 = false>
struct batched_dy_packer {
  static constexpr bool bf16 = Bf16 && bf16_available;
  std::size_t out_channels, pixels;
  const float* dy;
  const float* operator()(std::size_t i0, std::size_t k0, std::size_t mc, std::size_t kc, float* out) const {
    using gemm_config::MR;
    const float* start = out;
    alignas(64) float line[gemm_config::KC];
    for (std::size_t i = 0; i < mc; i += MR) {
      const std::size_t rows = std::min(MR, mc - i);
      for (std::size_t r = 0; r < MR; ++r) {
        if (r >= rows) {
          std::fill(line, line + kc, 0.0f);
        } else {
          const std::size_t o = i0 + i + r;
          for (std::size_t k = 0; k < kc;) {  // one run per image
            const std::size_t n = (k0 + k) / pixels, p = (k0 + k) % pixels;
            const std::size_t run = std::min(kc - k, pixels - p);
            copy_short(line + k, dy + (n * out_channels + o) * pixels + p, run);
            k += run;
          }
        }
        scatter_line<bf16>(line, kc, out, r, MR);
      }
      out += MR * packed_depth<bf16>(kc);
    }
    return start;
  }
};

// Packs B = [im2col(x[0]) im2col(x[1]) …]ᵀ (batch·pixels × channels·k·k)
// straight from the images.
template <bool Bf16 = false>
struct batched_im2col_transposed_packer {
  static constexpr bool bf16 = Bf16 && bf16_available;
  conv_geometry g;
  const float* x;
  void operator()(std::size_t k0, std::size_t j0, std::size_t kc, std::size_t nc, float* out) const {
    using gemm_config::NR;
    const std::size_t ow = g.out_width(), pixels = g.col_cols(), kk = g.taps();
    const std::size_t in_size = g.channels * g.height * g.width;
    alignas(64) float line[gemm_config::KC];
    for (std::size_t j = 0; j < nc; j += NR) {
      const std::size_t cols = std::min(NR, nc - j);
      for (std::size_t q = 0; q < NR; ++q) {
        if (q >= cols) {
          std::fill(line, line + kc, 0.0f);
          scatter_line<bf16>(line, kc, out, q, NR);
          continue;
        }
        const std::size_t row = j0 + j + q, c = row / kk, ky = row % kk / g.kernel_width, kx = row % g.kernel_width;
        for (std::size_t k = 0; k < kc;) {  // one run per output row of one image
          const std::size_t n = (k0 + k) / pixels, p = (k0 + k) % pixels;
          const std::size_t oy = p / ow, ox = p % ow;
          const std::size_t run = std::min(kc - k, ow - ox);
          const std::ptrdiff_t iy = std::ptrdiff_t(oy * g.stride + ky) - std::ptrdiff_t(g.padding);
          if (iy < 0 || iy >= std::ptrdiff_t(g.height)) {
            std::fill(line + k, line + k + run, 0.0f);
          } else {
            const float* src = x + n * in_size + (c * g.height + std::size_t(iy)) * g.width;
            copy_image_run(g, src, ox, kx, run, line + k);
          }
          k += run;
        }
        scatter_line<bf16>(line, kc, out, q, NR);
      }
      out += NR * packed_depth<bf16>(kc);
    }
  }
};

// dW = Σ_n dy[n] · im2col(x[n])ᵀ as one GEMM over the whole batch, threads
// splitting the columns of dW (or, when dW is thin, the images).
template <class Workspace>
void weight_gradient_by_gemm(const conv_geometry& g, std::size_t out_channels, std::size_t batch, const float* x,
                             const float* dy, float* dw, Workspace& ws) {
  const std::size_t pixels = g.col_cols(), rows = g.col_rows(), wsize = out_channels * rows;
  const batched_dy_packer<Workspace::bf16> pack_dy{out_channels, pixels, dy};
  const batched_im2col_transposed_packer<Workspace::bf16> pack_x{g, x};
  const std::size_t threads = std::size_t(max_threads());
  if (rows >= 2 * threads * gemm_config::NR) {
    // Enough columns of dW for every thread: split them.
    gemm_packed(out_channels, rows, batch * pixels, pack_dy, pack_x, dw, rows, false);
  } else {
    // A thin dW (the first layer: 3·3·3 columns): split the images instead,
    // each thread summing into its own small buffer.
    ws.reserve_partials(threads, wsize);
    parallel_chunks(batch, [&](std::size_t n0, std::size_t n1, int t) {
      const std::size_t k0 = n0 * pixels;
      detail::gemm_serial_packed(out_channels, rows, (n1 - n0) * pixels, detail::k_shifted_a{pack_dy, k0},
                                 detail::shifted_b{pack_x, k0, 0}, ws.partials[t].data(), rows, false);
      ws.partial_used[t] = 1;
    });
    std::fill(dw, dw + wsize, 0.0f);
    for (std::size_t t = 0; t < threads; ++t) {
      if (!ws.partial_used[t]) continue;
      ws.partial_used[t] = 0;
      for (std::size_t i = 0; i < wsize; ++i) dw[i] += ws.partials[t][i];
    }
  }
}

// Given dy, write dW = Σ_n dy[n] ⋆ x[n] (direct_weight_gradient.hpp, or one
// GEMM over the batch), db = Σ dy and, when dx is not null, dx: a
// convolution of dy for stride 1, else col2im(Wᵀ · dy[n]); each by the
// plan's kernel (plan.hpp) unless given one.
template <class Workspace>
void conv_backward(const conv_geometry& g, std::size_t out_channels, std::size_t batch, const float* x,
                   const float* w, const float* dy, float* dw, float* db, float* dx, Workspace& ws,
                   const conv_plan& plan) {
  const std::size_t in_size = g.channels * g.height * g.width;
  const std::size_t pixels = g.col_cols(), rows = g.col_rows();
  const std::size_t wsize = out_channels * rows;
  if (dx && input_gradient_is_convolution(g)) {
    ws.flipped.resize(wsize);
    flip_transpose_weights(out_channels, g.channels, g.taps(), w, ws.flipped.data());
    conv_forward(input_gradient_geometry(g, out_channels), g.channels, batch, dy, ws.flipped.data(), nullptr, dx,
                 ws.flipped_forward, plan.input_gradient);
  } else if (dx) {
    const std::size_t threads = std::size_t(max_threads());
    ws.reserve(threads, rows * pixels);
    parallel_for(batch, [&](std::size_t n, int t) {
      float* col = ws.columns[t].data();
      gemm(rows, pixels, out_channels, transposed(w, rows), row_major(dy + n * out_channels * pixels, pixels), col,
           pixels, false);
      float* dxn = dx + n * in_size;
      std::fill(dxn, dxn + in_size, 0.0f);
      col2im(g, col, dxn);
    });
  }

  if (plan.weight_gradient == conv_kernel::direct || plan.weight_gradient == conv_kernel::direct_tiles) {
    ws.weight_gradient.compute(g, out_channels, batch, x, dy, dw, plan.weight_gradient == conv_kernel::direct_tiles);
  } else {
    weight_gradient_by_gemm(g, out_channels, batch, x, dy, dw, ws);
  }

  parallel_for(out_channels, [&](std::size_t o, int) {
    float s = 0.0f;
    for (std::size_t n = 0; n < batch; ++n) s += sum(dy + (n * out_channels + o) * pixels, pixels);
    db[o] = s;
  });
}

template <class Workspace>
void conv_backward(const conv_geometry& g, std::size_t out_channels, std::size_t batch, const float* x,
                   const float* w, const float* dy, float* dw, float* db, float* dx, Workspace& ws) {
  conv_backward(g, out_channels, batch, x, w, dy, dw, db, dx, ws, plan_conv(g, out_channels, Workspace::bf16));
}

}  // namespace nibble::kernels
