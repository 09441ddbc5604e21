#pragma once
// A stride-1 convolution straight from channels-last u8 codes, with no
// im2col matrix ("implicit GEMM"), on AMX tiles or with AVX-512 VNNI: the
// int32 sums Σ w·x of every output pixel and filter, exactly those of
// im2col + packed_gemm, but in pixel-major order (sums[q][o]).
//
// The input is one image padded on every side by P pixels of the zero-point
// code, channels last: Hp = H + 2P rows of Wp = W + 2P pixels of C codes,
// C a multiple of 64. Number the padded pixels p = y·Wp + x. Output pixel
// (y, x) under tap (ky, kx) reads padded pixel (y + ky)·Wp + (x + kx) =
// q + ky·Wp + kx, with q = y·Wp + x. So a run of 16 consecutive q under one
// tap is 16 pixels at a fixed stride of C bytes: one tile load, 64 channels
// wide. Taking q over whole padded rows lets x run past W into the right
// padding; those sums are computed and ignored (Wp/W times the products:
// 6 % more at W = 32, 25 % at W = 8), which keeps every load a plain tile.
//
// The weights are packed once into B tiles (VNNI layout: 16 rows of four
// channels × 16 filters) for each tap, 64-channel chunk and 16 filters;
// the VNNI kernel reads the same tiles a row at a time. A 1×1 convolution
// over rows laid out by the caller (each output pixel's window, "lowered")
// makes any convolution one of these.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "nibble/config.hpp"
#include "nibble/kernels/int8/amx.hpp"
#include "nibble/kernels/simd.hpp"

#if NIBBLE_ISA_AVX512_VNNI
#include <immintrin.h>
#endif

namespace nibble::kernels::int8 {

struct implicit_conv_shape {
  std::size_t channels = 0, height = 0, width = 0, kernel = 0, padding = 0, filters = 0;

  constexpr std::size_t padded_width() const { return width + 2 * padding; }
  constexpr std::size_t padded_height() const { return height + 2 * padding; }
  constexpr std::size_t out_height() const { return padded_height() - kernel + 1; }
  constexpr std::size_t out_width() const { return padded_width() - kernel + 1; }
  // Output positions q computed: whole padded rows, rounded up to the 32
  // pixels of a micro-tile.
  constexpr std::size_t positions() const { return (out_height() * padded_width() + 31) / 32 * 32; }
  // Pixels the input buffer holds: the padded image, plus slack that the
  // last micro-tile's loads may reach (their sums are ignored).
  constexpr std::size_t input_pixels() const {
    return positions() + (kernel - 1) * padded_width() + kernel - 1;
  }
  constexpr bool valid() const {
    return channels % 64 == 0 && channels > 0 && filters % 32 == 0 && filters > 0 && kernel > 0 &&
           height + 2 * padding >= kernel && width + 2 * padding >= kernel;
  }
};

// The s8 codes of w[filter][channel][ky][kx] as B tiles: tile (tap, chunk,
// block) holds 16 rows r of 64 bytes, byte 4n + j of row r being the code of
// filter 16·block + n and channel 64·chunk + 4r + j.
struct implicit_conv_weights {
  implicit_conv_shape shape;
  std::vector<std::int8_t, aligned_allocator<std::int8_t>> tiles;  // rows on cache lines

  std::size_t chunks() const { return shape.channels / 64; }
  std::size_t blocks() const { return shape.filters / 16; }
  // Where tile (tap, chunk, block) starts in `tiles`.
  std::size_t offset(std::size_t tap, std::size_t chunk, std::size_t block) const {
    return ((tap * chunks() + chunk) * blocks() + block) * 1024;
  }
  const std::int8_t* tile(std::size_t tap, std::size_t chunk, std::size_t block) const {
    return tiles.data() + offset(tap, chunk, block);
  }
};

inline void pack_implicit_conv_weights(const std::int8_t* w, const implicit_conv_shape& s,
                                       implicit_conv_weights& out) {
  if (!s.valid())
    throw std::invalid_argument("nibble::kernels::int8: the implicit convolution needs channels in multiples of 64 "
                                "and filters in multiples of 32");
  out.shape = s;
  const std::size_t taps = s.kernel * s.kernel;
  out.tiles.assign(taps * out.chunks() * out.blocks() * 1024, 0);
  for (std::size_t tap = 0; tap < taps; ++tap)
    for (std::size_t chunk = 0; chunk < out.chunks(); ++chunk)
      for (std::size_t block = 0; block < out.blocks(); ++block) {
        std::int8_t* t = out.tiles.data() + out.offset(tap, chunk, block);
        for (std::size_t r = 0; r < 16; ++r)
          for (std::size_t n = 0; n < 16; ++n)
            for (std::size_t j = 0; j < 4; ++j) {
              const std::size_t f = 16 * block + n, c = 64 * chunk + 4 * r + j;
              t[r * 64 + 4 * n + j] = w[(f * s.channels + c) * taps + tap];
            }
      }
}

// The plain loops the tile kernel must match: sums[q][o] for every q of
// whole padded rows (positions()), from a padded channels-last image.
inline void implicit_conv_reference(const std::uint8_t* image, const std::int8_t* w, const implicit_conv_shape& s,
                                    std::int32_t* sums) {
  const std::size_t wp = s.padded_width(), taps = s.kernel * s.kernel;
  for (std::size_t q = 0; q < s.positions(); ++q)
    for (std::size_t f = 0; f < s.filters; ++f) {
      std::int32_t sum = 0;
      for (std::size_t ky = 0; ky < s.kernel; ++ky)
        for (std::size_t kx = 0; kx < s.kernel; ++kx) {
          const std::uint8_t* pixel = image + (q + ky * wp + kx) * s.channels;
          const std::int8_t* filter = w + f * s.channels * taps + ky * s.kernel + kx;
          for (std::size_t c = 0; c < s.channels; ++c) sum += std::int32_t(filter[c * taps]) * std::int32_t(pixel[c]);
        }
      sums[q * s.filters + f] = sum;
    }
}

// The padded input of one image: its pixels (H × W × C codes, channels
// last) framed by `padding` pixels of the code `pad` (the zero point) on
// every side, and the slack after it filled with `pad` too. `out` holds
// input_pixels() pixels; on a 64-byte boundary, each tile row is one
// cache line.
inline void pad_image(const std::uint8_t* pixels, const implicit_conv_shape& s, std::uint8_t pad,
                      std::uint8_t* out) {
  const std::size_t c = s.channels, wp = s.padded_width(), row = s.width * c;
  const std::size_t top = s.padding * wp + s.padding;  // pixels before the first image pixel
  std::fill(out, out + top * c, pad);
  for (std::size_t y = 0; y < s.height; ++y) {
    std::uint8_t* line = out + (top + y * wp) * c;
    std::memcpy(line, pixels + y * row, row);
    // the right padding of this row and the left padding of the next
    std::fill(line + row, line + (wp - s.width) * c + row, pad);
  }
  const std::size_t written = top + s.height * wp;
  std::fill(out + written * c, out + s.input_pixels() * c, pad);
}

#if NIBBLE_ISA_AVX512_VNNI
// The same sums with vpdpbusd, for machines without AMX: 8 positions × 32
// filters in 16 registers. A position's four channels are broadcast to
// every lane, and each lane is a filter: the weights are the B tiles, read
// a row (four channels × 16 filters, 64 bytes) at a time.
inline void implicit_conv_vnni(const std::uint8_t* image, const implicit_conv_weights& w, std::size_t first,
                               std::size_t last, std::int32_t* sums) {
  const implicit_conv_shape& s = w.shape;
  const std::size_t c = s.channels, wp = s.padded_width();
  constexpr std::size_t rows = 8;
  for (std::size_t b = 0; b < w.blocks(); b += 2)
    for (std::size_t q0 = first; q0 < last; q0 += rows) {
      __m512i acc[rows][2];
      for (auto& a : acc) a[0] = a[1] = _mm512_setzero_si512();
      for (std::size_t ky = 0; ky < s.kernel; ++ky)
        for (std::size_t kx = 0; kx < s.kernel; ++kx) {
          const std::size_t tap = ky * s.kernel + kx;
          const std::uint8_t* a = image + (q0 + ky * wp + kx) * c;
          for (std::size_t chunk = 0; chunk < w.chunks(); ++chunk) {
            const std::int8_t* t0 = w.tile(tap, chunk, b);
            const std::int8_t* t1 = w.tile(tap, chunk, b + 1);
            for (std::size_t r = 0; r < 16; ++r) {
              const __m512i w0 = _mm512_load_si512(t0 + 64 * r), w1 = _mm512_load_si512(t1 + 64 * r);
              const std::uint8_t* x = a + 64 * chunk + 4 * r;
              for (std::size_t m = 0; m < rows; ++m) {
                std::int32_t four;
                std::memcpy(&four, x + m * c, 4);
                const __m512i xb = _mm512_set1_epi32(four);
                acc[m][0] = _mm512_dpbusd_epi32(acc[m][0], xb, w0);
                acc[m][1] = _mm512_dpbusd_epi32(acc[m][1], xb, w1);
              }
            }
          }
        }
      std::int32_t* out = sums + (q0 - first) * s.filters + 16 * b;
      for (std::size_t m = 0; m < rows; ++m) {
        _mm512_storeu_si512(out + m * s.filters, acc[m][0]);
        _mm512_storeu_si512(out + m * s.filters + 16, acc[m][1]);
      }
    }
}
#endif

#if NIBBLE_ISA_AMX_INT8
// sums[q − first][o] for positions first ≤ q < last (multiples of 32, last
// at most positions()), all filters; `image` holds input_pixels() pixels.
// Filter pairs outside, pixel blocks inside: a pair's weights stay in L1
// while the range's pixels stream past them. Needs amx_usable().
inline void implicit_conv_amx(const std::uint8_t* image, const implicit_conv_weights& w, std::size_t first,
                              std::size_t last, std::int32_t* sums) {
  amx::configure_tiles_once();
  const implicit_conv_shape& s = w.shape;
  const std::size_t c = s.channels, wp = s.padded_width(), ldo = s.filters * sizeof(std::int32_t);
  for (std::size_t b = 0; b < w.blocks(); b += 2)
    for (std::size_t q0 = first; q0 < last; q0 += 32) {
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (std::size_t ky = 0; ky < s.kernel; ++ky)
        for (std::size_t kx = 0; kx < s.kernel; ++kx) {
          const std::size_t tap = ky * s.kernel + kx;
          const std::uint8_t* a = image + (q0 + ky * wp + kx) * c;
          for (std::size_t chunk = 0; chunk < w.chunks(); ++chunk, a += 64) {
            _tile_loadd(4, a, c);  // pixels q0 … q0 + 15, 64 channels
            _tile_loadd(6, w.tile(tap, chunk, b), 64);
            _tile_dpbusd(0, 4, 6);
            _tile_loadd(7, w.tile(tap, chunk, b + 1), 64);
            _tile_dpbusd(1, 4, 7);
            _tile_loadd(5, a + 16 * c, c);  // pixels q0 + 16 … q0 + 31
            _tile_dpbusd(2, 5, 6);
            _tile_dpbusd(3, 5, 7);
          }
        }
      std::int32_t* out = sums + (q0 - first) * s.filters + 16 * b;
      _tile_stored(0, out, ldo);
      _tile_stored(1, out + 16, ldo);
      _tile_stored(2, out + 16 * s.filters, ldo);
      _tile_stored(3, out + 16 * s.filters + 16, ldo);
    }
}
// Every position.
inline void implicit_conv_amx(const std::uint8_t* image, const implicit_conv_weights& w, std::int32_t* sums) {
  implicit_conv_amx(image, w, 0, w.shape.positions(), sums);
}
#endif

}  // namespace nibble::kernels::int8
