#pragma once
// Stride-1 convolution computed straight from a zero-padded copy of each
// image, with no im2col block at all ("direct" convolution).
//
// Why: with im2col every input pixel is copied K·K times into packed
// panels, and for VGG4bit's 64- and 128-channel layers that packing cost as
// much as the multiply-adds (each packed element feeds only Out of them).
// For stride 1 the 16 output pixels of one vector, at one tap (ky, kx) and
// one input channel, read 16 consecutive pixels of one padded input row, so
// the micro-kernel loads its B operand in place: the only copy left is the
// padded image, made once per image (the size of the input, not 9× it).
//
// Layout of the padded image: one plane per input channel (fp32) or per
// pair of channels (bf16: each 32-bit element holds the pair as vdpbf16ps
// wants it), each plane (H + 2P) × (W + 2P) with a zero border.
// The weights are packed tap by tap: for each MR-row sliver of output
// channels, for each tap, for each plane, MR elements.
//
// Handles geometries whose output rows are whole multiples of 16 pixels, or
// exactly 8, and whose images are whole multiples of 32 pixels, so that a
// 32-pixel tile is two 16-pixel runs of output rows (VGG4bit's 32×32 and
// 16×16 layers) or four 8-pixel rows (its 8×8 layers, each vector loaded
// in two halves).
//
// On AMX (bf16, channels and filters in multiples of 32) the same padded
// image feeds the tiles: a B tile is 16 pair planes × 16 consecutive
// positions, read in place. Rows of 8 pixels are covered by runs of padded
// positions (oy·Wp + ox, the Wp − Wo border columns computed and dropped).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "nibble/config.hpp"
#if NIBBLE_ISA_AVX512F
#include <immintrin.h>
#endif

#include "nibble/kernels/bf16.hpp"
#include "nibble/kernels/bf16_tiles.hpp"
#include "nibble/kernels/gemm.hpp"
#include "nibble/kernels/im2col.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/kernels/plan.hpp"
#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

namespace detail {

// The fp32 twin of direct_kernel_bf16 (bf16.hpp): C (m ≤ Rows rows × 32)
// = bias + Σ_t Σ_p A · B, B's vector v being the 16 floats at
// b[v] + tap_offset[t] + p·plane_stride.
template <bool Split>
inline fvec load_pixels(const float* p, std::ptrdiff_t second) {
#if NIBBLE_ISA_AVX512BW_DQ
  if constexpr (Split && fvec_width == 16)
    return fvec(_mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(p)), _mm256_loadu_ps(p + second), 1));
#endif
  (void)second;
  return load(p);
}

template <std::size_t Rows, bool Split>
inline void direct_kernel_fp32(std::size_t taps, const std::ptrdiff_t* tap_offset, std::size_t planes,
                               std::size_t plane_stride, const float* __restrict a, const float* b0, const float* b1,
                               std::ptrdiff_t second, float* c, std::size_t ldc, std::size_t m, const float* bias) {
  using gemm_config::MR;
  fvec acc[Rows][2];
#pragma GCC unroll 16
  for (std::size_t i = 0; i < Rows; ++i) acc[i][0] = acc[i][1] = broadcast(0.0f);
  for (std::size_t t = 0; t < taps; ++t) {
    const float* p0 = b0 + tap_offset[t];
    const float* p1 = b1 + tap_offset[t];
    for (std::size_t p = 0; p < planes; ++p) {
      const fvec v0 = load_pixels<Split>(p0, second), v1 = load_pixels<Split>(p1, second);
#pragma GCC unroll 16
      for (std::size_t i = 0; i < Rows; ++i) {
        const fvec ai = broadcast(a[i]);
        acc[i][0] = fma(ai, v0, acc[i][0]);
        acc[i][1] = fma(ai, v1, acc[i][1]);
      }
      a += MR;
      p0 += plane_stride;
      p1 += plane_stride;
    }
  }
#pragma GCC unroll 16
  for (std::size_t i = 0; i < Rows; ++i) {
    if (i >= m) break;
    const fvec b = broadcast(bias ? bias[i] : 0.0f);
    store(c + i * ldc, acc[i][0] + b);
    store(c + i * ldc + 16, acc[i][1] + b);
  }
}

}  // namespace detail

// The weights packed for one geometry and the padded images (one per
// thread), kept between calls so a training step allocates nothing.
template <bool Bf16 = false>
class direct_conv {
 public:
  static constexpr bool bf16 = Bf16 && bf16_available;
  using element = std::conditional_t<bf16, std::uint32_t, float>;

  // y[n] = conv(x[n], w) + bias for every image n; w is Out × C × K × K,
  // bias may be null (no bias). The geometry fits the direct kernels
  // (plan.hpp: direct_conv_fits); `tiles` runs them on AMX tiles (bf16
  // products, tiles_fit), as plan_conv_forward says.
  void forward(const conv_geometry& g, std::size_t out_channels, std::size_t batch, const float* x, const float* w,
               const float* bias, float* y, bool tiles) {
    using gemm_config::MR;
    const std::size_t kk = g.kernel * g.kernel, planes = plane_count(g.channels);
    const std::size_t padded_width = g.width + 2 * g.padding, padded_height = g.height + 2 * g.padding;
    const std::size_t plane_size = padded_width * padded_height;
    const std::size_t pixels = g.col_cols(), ow = g.out_width(), in_size = g.channels * g.height * g.width;
    prepare_images(planes * plane_size + image_slack);
    std::array<std::ptrdiff_t, 49> tap_offset{};
    for (std::size_t t = 0; t < kk; ++t) tap_offset[t] = std::ptrdiff_t(t / g.kernel * padded_width + t % g.kernel);
#if NIBBLE_ISA_AMX_BF16
    if constexpr (bf16)
      if (tiles) {
        forward_tiles(g, out_channels, batch, x, w, bias, y, tap_offset.data());
        return;
      }
#endif
    (void)tiles;
    pack_weights(w, out_channels, g.channels, kk);
    const std::size_t sliver_size = MR * kk * planes;

    parallel_for(batch, [&](std::size_t n, int thread) {
      element* image = images_[std::size_t(thread)].data();
      pad_image(g, x + n * in_size, image);
      float* out = y + n * out_channels * pixels;
      for (std::size_t q = 0; q < pixels; q += 32) {
        // The tile's two 16-pixel runs, each within one output row.
        const element* b0 = image + q / ow * padded_width + q % ow;
        const element* b1 = image + (q + 16) / ow * padded_width + (q + 16) % ow;
        const std::ptrdiff_t second = std::ptrdiff_t(padded_width);  // the next row, for 8-pixel rows
        for (std::size_t o = 0; o < out_channels; o += MR) {
          const std::size_t rows = std::min(MR, out_channels - o);
          const element* a = weights_.data() + o / MR * sliver_size;
          const float* bias_o = bias ? bias + o : nullptr;
          auto tile = [&]<std::size_t Rows, bool Split>() {
#if NIBBLE_ISA_AVX512_BF16
            if constexpr (bf16) {
              direct_kernel_bf16<Rows, MR, Split>(kk, tap_offset.data(), planes, plane_size, a, b0, b1, second,
                                                  out + o * pixels + q, pixels, rows, bias_o);
              return;
            }
#endif
            if constexpr (!bf16)
              detail::direct_kernel_fp32<Rows, Split>(kk, tap_offset.data(), planes, plane_size, a, b0, b1, second,
                                                      out + o * pixels + q, pixels, rows, bias_o);
          };
          auto rows_tile = [&]<bool Split>() {
            if (rows > 8)
              tile.template operator()<MR, Split>();
            else if (rows > 4)
              tile.template operator()<8, Split>();
            else
              tile.template operator()<4, Split>();
          };
          if (ow == 8)
            rows_tile.template operator()<true>();
          else
            rows_tile.template operator()<false>();
        }
      }
    });
  }

 private:
  static std::size_t plane_count(std::size_t channels) { return bf16 ? (channels + 1) / 2 : channels; }

  // Words past the last plane that a run of padded positions may read.
  static constexpr std::size_t image_slack = 64;

#if NIBBLE_ISA_AMX_BF16
  // The AMX forward: per image, per pair of 16-filter blocks, 32 positions
  // at a time (two runs of 16 pixels within output rows, or of padded
  // positions for narrower rows, whose sums pass through `dropped`).
  void forward_tiles(const conv_geometry& g, std::size_t out_channels, std::size_t batch, const float* x,
                     const float* w, const float* bias, float* y, const std::ptrdiff_t* tap_offset) {
    const std::size_t kk = g.kernel * g.kernel, plane_blocks = plane_count(g.channels) / 16;
    const std::size_t padded_width = g.width + 2 * g.padding;
    const std::size_t plane_size = padded_width * (g.height + 2 * g.padding);
    const std::size_t pixels = g.col_cols(), ow = g.out_width(), oh = g.out_height();
    const std::size_t in_size = g.channels * g.height * g.width, block_tiles = kk * plane_blocks;
    pack_weight_tiles(w, out_channels, g.channels, kk);
    bias_tiles_.assign(out_channels * 16, 0.0f);
    if (bias)
      for (std::size_t o = 0; o < out_channels; ++o) std::fill_n(bias_tiles_.data() + o * 16, 16, bias[o]);
    const bool row_runs = ow % 16 == 0;
    const std::size_t positions = row_runs ? pixels : oh * padded_width;

    parallel_for(batch, [&](std::size_t n, int thread) {
      element* image = images_[std::size_t(thread)].data();
      pad_image(g, x + n * in_size, image);
      float* out = y + n * out_channels * pixels;
      alignas(64) float dropped[4][16][16];
      for (std::size_t o = 0; o < out_channels; o += 32) {
        const element* a0 = weights_.data() + o / 16 * block_tiles * amx::tile_words;
        const element* a1 = a0 + block_tiles * amx::tile_words;
        const float* init0 = bias_tiles_.data() + o * 16;
        for (std::size_t q = 0; q < positions; q += 32) {
          if (row_runs) {
            const element* run0 = image + q / ow * padded_width + q % ow;
            const element* run1 = image + (q + 16) / ow * padded_width + (q + 16) % ow;
            float* c = out + o * pixels + q;
            amx::direct_tile(kk, tap_offset, plane_blocks, plane_size, a0, a1, run0, run1, init0, init0 + 256, c,
                             c + 16, c + 16 * pixels, c + 16 * pixels + 16, pixels);
            continue;
          }
          amx::direct_tile(kk, tap_offset, plane_blocks, plane_size, a0, a1, image + q, image + q + 16, init0,
                           init0 + 256, dropped[0][0], dropped[1][0], dropped[2][0], dropped[3][0], 16);
          for (std::size_t j = 0; j < 32 && q + j < positions; ++j) {
            const std::size_t oy = (q + j) / padded_width, ox = (q + j) % padded_width;
            if (ox >= ow) continue;
            float* column = out + o * pixels + oy * ow + ox;
            for (std::size_t r = 0; r < 32; ++r) column[r * pixels] = dropped[r / 16 * 2 + j / 16][r % 16][j % 16];
          }
        }
      }
    });
  }

  // weights_[block][tap][plane block][r][pair] = the pair of channels
  // 2·(16·plane block + pair) and the next, for filter 16·block + r.
  void pack_weight_tiles(const float* w, std::size_t out_channels, std::size_t channels, std::size_t kk) {
    const std::size_t plane_blocks = plane_count(channels) / 16;
    weights_.resize(out_channels * kk * plane_blocks * 16);
    element* out = weights_.data();
    for (std::size_t block = 0; block < out_channels / 16; ++block)
      for (std::size_t t = 0; t < kk; ++t)
        for (std::size_t b = 0; b < plane_blocks; ++b)
          for (std::size_t r = 0; r < 16; ++r)
            for (std::size_t p = 0; p < 16; ++p, ++out) {
              const float* filter = w + (block * 16 + r) * channels * kk;
              const std::size_t c = 2 * (b * 16 + p);
              *out = bf16_pair(filter[c * kk + t], filter[(c + 1) * kk + t]);
            }
  }

  std::vector<float, aligned_allocator<float>> bias_tiles_;  // 16 copies of each filter's bias
#endif

  // weights_[sliver][tap][plane][r] = w[sliver·MR + r][channel(s) of plane][tap], zero past the edges.
  void pack_weights(const float* w, std::size_t out_channels, std::size_t channels, std::size_t kk) {
    using gemm_config::MR;
    const std::size_t planes = plane_count(channels), slivers = (out_channels + MR - 1) / MR;
    weights_.resize(slivers * MR * kk * planes);
    element* out = weights_.data();
    for (std::size_t s = 0; s < slivers; ++s)
      for (std::size_t t = 0; t < kk; ++t)
        for (std::size_t p = 0; p < planes; ++p)
          for (std::size_t r = 0; r < MR; ++r, ++out) {
            const std::size_t o = s * MR + r;
            auto weight = [&](std::size_t c) { return o < out_channels && c < channels ? w[(o * channels + c) * kk + t] : 0.0f; };
            if constexpr (bf16)
              *out = bf16_pair(weight(2 * p), weight(2 * p + 1));
            else
              *out = weight(p);
          }
  }

  // One zeroed image buffer per thread. The border is never written, so it
  // stays zero as long as the geometry does.
  void prepare_images(std::size_t size) {
    const std::size_t threads = std::size_t(max_threads());
    if (images_.size() < threads) images_.resize(threads);
    for (auto& image : images_)
      if (image.size() != size) image.assign(size, element{});
  }

  // The interior of the padded image from one NCHW image.
  static void pad_image(const conv_geometry& g, const float* x, element* image) {
    const std::size_t padded_width = g.width + 2 * g.padding;
    const std::size_t plane_size = padded_width * (g.height + 2 * g.padding), hw = g.height * g.width;
    for (std::size_t p = 0; p < plane_count(g.channels); ++p) {
      element* plane = image + p * plane_size + g.padding * padded_width + g.padding;
      if constexpr (bf16) {
        const float* even = x + 2 * p * hw;
        const bool has_odd = 2 * p + 1 < g.channels;
        for (std::size_t y = 0; y < g.height; ++y) {
          const float* e = even + y * g.width;
          if (has_odd) {
            pack_bf16_rows(e, e + hw, plane + y * padded_width, g.width);
          } else {
            for (std::size_t i = 0; i < g.width; ++i) plane[y * padded_width + i] = bf16_pair(e[i], 0.0f);
          }
        }
      } else {
        const float* src = x + p * hw;
        for (std::size_t y = 0; y < g.height; ++y) copy_short(plane + y * padded_width, src + y * g.width, g.width);
      }
    }
  }

  std::vector<element, aligned_allocator<element>> weights_;
  std::vector<std::vector<element, aligned_allocator<element>>> images_;
};

}  // namespace nibble::kernels
