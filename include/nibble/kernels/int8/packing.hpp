#pragma once
// Operand layouts of the int8 product (packed_gemm.hpp). Both are padded to
// the largest block any micro-kernel reads (rows to 32, depth to 64: one
// AMX tile row), so no micro-kernel tests an edge:
//
//   weights  row r holds its s8 codes, k after k, zeros in the padding; a
//            group of four consecutive k is one 32-bit word (VNNI) and 64
//            consecutive k one tile row (AMX). Packed once.
//   columns  the u8 activation codes x[k][c] in tiles of col_block columns:
//            tile t, group q holds, for each of its columns, the four bytes
//            x[4q..4q+3][c]: exactly the operand of one vpdpbusd per 16
//            columns. Padding columns and depth are 0 (their products are
//            discarded or multiply zero weights).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "nibble/config.hpp"
#include "nibble/kernels/simd.hpp"
#if NIBBLE_ISA_SSE2
#include <emmintrin.h>
#endif

namespace nibble::kernels::int8 {

inline constexpr std::size_t row_block = 8;   // output rows per micro-tile
inline constexpr std::size_t col_block = 32;  // columns per micro-tile (two 16-lane vectors)
inline constexpr std::size_t row_padding = 32;    // rows of an AMX micro-tile (two tiles)
inline constexpr std::size_t depth_padding = 64;  // bytes of an AMX tile row

constexpr std::size_t round_up(std::size_t n, std::size_t m) { return (n + m - 1) / m * m; }

struct packed_weights {
  std::size_t rows = 0, depth = 0, padded_rows = 0, padded_depth = 0;
  std::vector<std::int8_t, aligned_allocator<std::int8_t>> codes;  // padded_rows × padded_depth, on cache lines
  std::vector<std::int32_t> row_sums;   // Σ_k w[r][k], for zero-point corrections
};

inline void pack_weights(const std::int8_t* w, std::size_t rows, std::size_t depth, packed_weights& out) {
  out.rows = rows;
  out.depth = depth;
  out.padded_rows = round_up(rows, row_padding);
  out.padded_depth = round_up(depth, depth_padding);
  out.codes.assign(out.padded_rows * out.padded_depth, 0);
  out.row_sums.assign(rows, 0);
  for (std::size_t r = 0; r < rows; ++r) {
    std::memcpy(out.codes.data() + r * out.padded_depth, w + r * depth, depth);
    for (std::size_t k = 0; k < depth; ++k) out.row_sums[r] += w[r * depth + k];
  }
}

struct packed_columns {
  std::size_t depth = 0, cols = 0, padded_depth = 0, tiles = 0;
  std::vector<std::uint8_t, aligned_allocator<std::uint8_t>> codes;  // tiles × padded_depth/4 × col_block × 4
  std::vector<std::uint8_t> rows;   // scratch: four unpacked rows of x

  void shape(std::size_t d, std::size_t c) {
    depth = d;
    cols = c;
    padded_depth = round_up(d, depth_padding);
    tiles = (c + col_block - 1) / col_block;
    codes.resize(tiles * padded_depth * col_block);
    rows.resize(4 * tiles * col_block);
  }
  std::uint8_t* group(std::size_t tile, std::size_t q) { return codes.data() + (tile * padded_depth / 4 + q) * col_block * 4; }
  const std::uint8_t* group(std::size_t tile, std::size_t q) const {
    return codes.data() + (tile * padded_depth / 4 + q) * col_block * 4;
  }
};

namespace detail {
// dst[4c + j] = row_j[c] for 16 columns c: a 4 × 16 byte transpose.
inline void interleave_16(const std::uint8_t* r0, const std::uint8_t* r1, const std::uint8_t* r2,
                          const std::uint8_t* r3, std::uint8_t* dst) {
#if NIBBLE_ISA_SSE2
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0));
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r1));
  const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r2));
  const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r3));
  const __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
  const __m128i cd_lo = _mm_unpacklo_epi8(c, d), cd_hi = _mm_unpackhi_epi8(c, d);
  auto* out = reinterpret_cast<__m128i*>(dst);
  _mm_storeu_si128(out + 0, _mm_unpacklo_epi16(ab_lo, cd_lo));
  _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(ab_lo, cd_lo));
  _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(ab_hi, cd_hi));
  _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(ab_hi, cd_hi));
#else
  for (std::size_t i = 0; i < 16; ++i) {
    dst[4 * i] = r0[i];
    dst[4 * i + 1] = r1[i];
    dst[4 * i + 2] = r2[i];
    dst[4 * i + 3] = r3[i];
  }
#endif
}
}  // namespace detail

// Packs x (depth × cols) given row by row: write_row(k, dst) stores the
// cols bytes x[k][0..cols) at dst. Rows are built four at a time and
// interleaved 16 columns per step.
template <class WriteRow>
void pack_columns(std::size_t depth, std::size_t cols, WriteRow&& write_row, packed_columns& out) {
  out.shape(depth, cols);
  const std::size_t width = out.tiles * col_block;
  std::fill(out.rows.begin(), out.rows.end(), std::uint8_t{0});  // padding columns stay 0
  for (std::size_t q = 0; q < out.padded_depth / 4; ++q) {
    std::uint8_t* r[4];
    for (std::size_t j = 0; j < 4; ++j) {
      r[j] = out.rows.data() + j * width;
      const std::size_t k = 4 * q + j;
      if (k < depth) write_row(k, r[j]);
      else std::fill(r[j], r[j] + width, std::uint8_t{0});
    }
    for (std::size_t t = 0; t < out.tiles; ++t)
      for (std::size_t half = 0; half < col_block; half += 16) {
        const std::size_t c = t * col_block + half;
        detail::interleave_16(r[0] + c, r[1] + c, r[2] + c, r[3] + c, out.group(t, q) + 4 * half);
      }
  }
}

}  // namespace nibble::kernels::int8
