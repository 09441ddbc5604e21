#pragma once
// The weight gradient of a stride-1 convolution without an im2col matrix:
//   dW[o][c][t] = Σ_n Σ_pixels dy[n][o][pixel] · x_padded[n][c][pixel + offset(t)].
//
// Why: as dW = dy · im2col(x)ᵀ, the transposed im2col operand had to be
// gathered column by column, nine input pixels per output pixel, and that
// packing cost about as much as the multiply-adds. Here the product runs
// over "padded pixel positions" P = oy·Wp + ox (Wp the padded width, the
// Wp − Wo extra columns carrying dy = 0), so tap t reads input position
// P + offset(t) and every operand is a plain strided view of two small
// copies made once per image:
//   - the input, pixel-major: x_t[Q][c] (fp32), or pairs of consecutive
//     positions (bf16: pair(Q, Q+1) for even Q in one copy and for odd Q in
//     another, since offset(t) may be odd);
//   - dy, pixel-major in panels of 32 output channels (the B operand of the
//     ordinary micro-kernel).
// The micro-kernel's A rows are 12 consecutive channels of x_t at one tap,
// its B columns 32 output channels; the tile is dWᵀ[t][c][o], summed over
// this thread's images and transposed into dW at the end.
//
// On AMX (bf16, channels and filters in multiples of 32) the tiles read the
// same copies in place: A is 16 filters' rows of dy pairs, B 16 pairs of
// positions × 16 channels of x at one tap, and the sums are sum[t][o][c].
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "nibble/kernels/bf16.hpp"
#include "nibble/kernels/bf16_tiles.hpp"
#include "nibble/kernels/gemm.hpp"
#include "nibble/kernels/im2col.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/kernels/plan.hpp"
#include "nibble/kernels/plan.hpp"
#include "nibble/kernels/transpose.hpp"

namespace nibble::kernels {

template <bool Bf16 = false>
class direct_weight_gradient {
 public:
  static constexpr bool bf16 = Bf16 && bf16_available;

  // dw (Out × C × K × K) = Σ_n dy[n] ⋆ x[n], for a geometry that fits
  // (plan.hpp: direct_weight_gradient_fits); `tiles` runs it on AMX tiles
  // (bf16 products), as plan_conv says.
  void compute(const conv_geometry& g, std::size_t out_channels, std::size_t batch, const float* x, const float* dy,
               float* dw, bool tiles) {
    using gemm_config::MR;
    using gemm_config::NR;
#if NIBBLE_ISA_AMX_BF16
    if constexpr (bf16)
      if (tiles) {
        compute_tiles(g, out_channels, batch, x, dy, dw);
        return;
      }
#endif
    (void)tiles;
    const geometry d = layout(g, false);
    const std::size_t kk = g.kernel * g.kernel, channels = g.channels;
    sum_over_images(g, d, out_channels, batch, x, dy, [&](buffers& b) {
      pack_dy_panels(d, out_channels, b);
      for (std::size_t panel = 0; panel * NR < out_channels; ++panel) {
        const std::size_t cols = std::min(NR, out_channels - panel * NR);
        for (std::size_t k0 = 0; k0 < d.depth; k0 += block_depth) {
          const std::size_t kc = std::min(block_depth, d.depth - k0);
          const element* b_block = b.dy_t.data() + (panel * d.depth + k0) * NR;
          for (std::size_t t = 0; t < kk; ++t) {
            const std::size_t offset = t / g.kernel * d.padded_width + t % g.kernel;
            // A for depth index k0, channel 0, tap t: position P + offset
            // with P = k0 (fp32) or the pair starting at 2·k0 (bf16).
            const element* a_tap;
            if constexpr (bf16)
              a_tap = (offset % 2 == 0 ? b.x_even : b.x_odd).data() + (k0 + offset / 2) * channels;
            else
              a_tap = b.x_t.data() + (k0 + offset) * channels;
            for (std::size_t c0 = 0; c0 < channels; c0 += MR) {
              const std::size_t rows = std::min(MR, channels - c0);
              float* c_tile = b.sum.data() + (t * channels + c0) * out_channels + panel * NR;
              auto tile = [&]<std::size_t Rows>() {
#if NIBBLE_ISA_AVX512_BF16
                if constexpr (bf16) {
                  micro_kernel_bf16<Rows>(kc, a_tap + c0, channels, b_block, c_tile, out_channels, rows, cols, true);
                  return;
                }
#endif
                if constexpr (!bf16)
                  detail::micro_kernel<Rows>(kc, a_tap + c0, channels, b_block, c_tile, out_channels, rows, cols,
                                             true);
              };
              detail::with_sliver_height(rows, tile);
            }
          }
        }
      }
    });

    // dw[o][c][t] = Σ over threads of sum[t][c][o].
    add_sums(out_channels, channels, kk, dw, [&](std::size_t t, std::size_t c, std::size_t o) {
      return (t * channels + c) * out_channels + o;
    });
  }

 private:
  // dw[o][c][t] = Σ over the threads that took images of sum[index(t, c, o)].
  template <class Index>
  void add_sums(std::size_t out_channels, std::size_t channels, std::size_t kk, float* dw, Index index) {
    parallel_for(out_channels, [&](std::size_t o, int) {
      float* row = dw + o * channels * kk;
      std::fill(row, row + channels * kk, 0.0f);
      for (const auto& b : per_thread_)
        if (b.used)
          for (std::size_t c = 0; c < channels; ++c)
            for (std::size_t t = 0; t < kk; ++t) row[c * kk + t] += b.sum[index(t, c, o)];
    });
    for (auto& b : per_thread_) b.used = false;
  }

#if NIBBLE_ISA_AMX_BF16
  // The AMX weight gradient: per image, per tap, 32 × 32 blocks of
  // sum[t][o][c] = Σ_P dy[o][P] · x[c][P + offset(t)], over the positions'
  // pairs in blocks of 16 (the depth is padded with zero dy to whole blocks).
  void compute_tiles(const conv_geometry& g, std::size_t out_channels, std::size_t batch, const float* x,
                     const float* dy, float* dw) {
    const geometry d = layout(g, true);
    const std::size_t kk = g.kernel * g.kernel, channels = g.channels;
    sum_over_images(g, d, out_channels, batch, x, dy, [&](buffers& b) {
      for (std::size_t t = 0; t < kk; ++t) {
        const std::size_t offset = t / g.kernel * d.padded_width + t % g.kernel;
        const element* x_tap = (offset % 2 == 0 ? b.x_even : b.x_odd).data() + offset / 2 * channels;
        for (std::size_t o = 0; o < out_channels; o += 32) {
          const element* a0 = b.dy_pairs.data() + o * d.depth;
          for (std::size_t c = 0; c < channels; c += 32) {
            float* s = b.sum.data() + (t * out_channels + o) * channels + c;
            amx::accumulate_tile(d.depth / 16, a0, a0 + 16 * d.depth, d.depth, x_tap + c, x_tap + c + 16,
                                 channels, s, s + 16, s + 16 * channels, s + 16 * channels + 16, channels);
          }
        }
      }
    });
    add_sums(out_channels, channels, kk, dw, [&](std::size_t t, std::size_t c, std::size_t o) {
      return (t * out_channels + o) * channels + c;
    });
  }
#endif

  using element = std::conditional_t<bf16, std::uint32_t, float>;
  using gemm_buffer = std::vector<element, aligned_allocator<element>>;
  // Depth (pixel positions, or pairs of them) per micro-kernel call: 32
  // columns of dy over this depth fill 32 KB of L1.
  static constexpr std::size_t block_depth = bf16 ? 128 : 256;

  struct geometry {
    std::size_t padded_width;
    std::size_t positions;  // padded input positions held in x's copies
    std::size_t depth;      // the product's K: positions P = oy·Wp + ox (fp32) or pairs of them (bf16)
    std::size_t dy_stride;  // floats per output channel in dy_planar
  };
  // With `tiles` (AMX) the depth is a whole number of 16-pair blocks.
  static geometry layout(const conv_geometry& g, bool tiles) {
    const std::size_t wp = g.width + 2 * g.padding, hp = g.height + 2 * g.padding;
    const std::size_t out_positions = g.out_height() * wp;
    // Room past the image for the last depth block at the largest tap
    // offset (and, for tiles, up to 31 positions more), rounded to whole
    // transposes.
    const std::size_t positions = (hp * wp + g.kernel + 2 + (bf16 ? 32 : 0) + 31) / 32 * 32;
    std::size_t depth = bf16 ? (out_positions + 1) / 2 : out_positions;
    if (tiles) depth = (depth + 15) / 16 * 16;
    return {wp, positions, depth, bf16 ? 2 * depth : depth};
  }

  struct buffers {
    std::vector<float, aligned_allocator<float>> x_planar, dy_planar;  // channel-major, zero borders
    gemm_buffer x_t, x_even, x_odd;                                    // pixel-major copies of x
    gemm_buffer x_pairs, dy_pairs;                                     // bf16: the planar copies as pairs
    gemm_buffer dy_t;                                                  // [panel][depth][32]
    std::vector<float> sum;                                            // dWᵀ[t][c][o]
    bool used = false;
  };

  void prepare(const geometry& d, std::size_t channels, std::size_t out_channels, std::size_t tile_size,
               std::size_t threads) {
    using gemm_config::MR;
    using gemm_config::NR;
    if (per_thread_.size() < threads) per_thread_.resize(threads);
    const std::size_t panels = (out_channels + NR - 1) / NR;
    for (auto& b : per_thread_) {
      // Zeroed once: borders and padding columns are never written after.
      auto fit = [](auto& v, std::size_t n) {
        if (v.size() != n) v.assign(n, {});
      };
      fit(b.x_planar, channels * d.positions);
      fit(b.dy_planar, out_channels * d.dy_stride);
      if constexpr (bf16) {
        fit(b.x_pairs, channels * (d.positions / 2));
        fit(b.x_even, (d.positions / 2) * channels + MR);
        fit(b.x_odd, (d.positions / 2) * channels + MR);
        fit(b.dy_pairs, out_channels * d.depth);
      } else {
        fit(b.x_t, d.positions * channels + MR);
      }
      fit(b.dy_t, panels * d.depth * NR);
      b.sum.resize(tile_size);
    }
  }

  // x (C × H × W) -> x_planar (C × positions, zero border) -> the
  // pixel-major copies.
  void copy_input(const conv_geometry& g, const geometry& d, const float* x, buffers& b) const {
    const std::size_t c_count = g.channels;
    for (std::size_t c = 0; c < c_count; ++c)
      for (std::size_t y = 0; y < g.height; ++y)
        copy_short(b.x_planar.data() + c * d.positions + (y + g.padding) * d.padded_width + g.padding,
                   x + (c * g.height + y) * g.width, g.width);
    if constexpr (bf16) {
      // Pairs (Q, Q+1) for even Q, then for odd Q: planar, then transposed.
      const std::size_t half = d.positions / 2;
      for (std::size_t c = 0; c < c_count; ++c)
        pack_bf16_line(b.x_planar.data() + c * d.positions, d.positions, b.x_pairs.data() + c * half);
      transpose_block(b.x_pairs.data(), half, b.x_even.data(), c_count, c_count, half);
      for (std::size_t c = 0; c < c_count; ++c)
        pack_bf16_line(b.x_planar.data() + c * d.positions + 1, d.positions - 1, b.x_pairs.data() + c * half);
      transpose_block(b.x_pairs.data(), half, b.x_odd.data(), c_count, c_count, half);
    } else {
      transpose_block(reinterpret_cast<const std::uint32_t*>(b.x_planar.data()), d.positions,
                      reinterpret_cast<std::uint32_t*>(b.x_t.data()), c_count, c_count, d.positions);
    }
  }

  // dy (Out × Ho × Wo) -> dy_planar (Out × padded positions, zero in the
  // padding columns) -> (bf16) dy_pairs, the same rows as pairs.
  void copy_dy(const conv_geometry& g, const geometry& d, std::size_t out_channels, const float* dy,
               buffers& b) const {
    const std::size_t oh = g.out_height(), ow = g.out_width(), stride = d.dy_stride;
    for (std::size_t o = 0; o < out_channels; ++o)
      for (std::size_t y = 0; y < oh; ++y)
        copy_short(b.dy_planar.data() + o * stride + y * d.padded_width, dy + (o * oh + y) * ow, ow);
    if constexpr (bf16)
      for (std::size_t o = 0; o < out_channels; ++o)
        pack_bf16_line(b.dy_planar.data() + o * stride, stride, b.dy_pairs.data() + o * d.depth);
  }

  // dy's rows (pairs in bf16) -> dy_t, 32 output channels per panel.
  void pack_dy_panels(const geometry& d, std::size_t out_channels, buffers& b) const {
    using gemm_config::NR;
    const std::uint32_t* source;
    std::size_t source_stride;
    if constexpr (bf16) {
      source = b.dy_pairs.data();
      source_stride = d.depth;
    } else {
      source = reinterpret_cast<const std::uint32_t*>(b.dy_planar.data());
      source_stride = d.dy_stride;
    }
    for (std::size_t panel = 0; panel * NR < out_channels; ++panel)
      transpose_block(source + panel * NR * source_stride, source_stride,
                      reinterpret_cast<std::uint32_t*>(b.dy_t.data()) + panel * d.depth * NR, NR,
                      std::min(NR, out_channels - panel * NR), d.depth);
  }

  // Each thread zeroes its sums, then for each of its images copies x and
  // dy (layout d) and calls product(b), which adds the image's products to
  // b.sum.
  template <class Product>
  void sum_over_images(const conv_geometry& g, const geometry& d, std::size_t out_channels, std::size_t batch,
                       const float* x, const float* dy, Product product) {
    const std::size_t channels = g.channels;
    prepare(d, channels, out_channels, g.kernel * g.kernel * channels * out_channels, std::size_t(max_threads()));
    parallel_chunks(batch, [&](std::size_t n0, std::size_t n1, int thread) {
      buffers& b = per_thread_[std::size_t(thread)];
      std::fill(b.sum.begin(), b.sum.end(), 0.0f);
      for (std::size_t n = n0; n < n1; ++n) {
        copy_input(g, d, x + n * channels * g.height * g.width, b);
        copy_dy(g, d, out_channels, dy + n * out_channels * g.col_cols(), b);
        product(b);
      }
      b.used = true;
    });
  }

  std::vector<buffers> per_thread_;
};

}  // namespace nibble::kernels
