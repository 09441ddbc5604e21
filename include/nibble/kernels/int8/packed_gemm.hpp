#pragma once
// out[r][c] = Σ_k w[r][k] · x[k][c] on packed operands (packing.hpp), in
// int32: s8 weight codes times u8 activation codes. With AVX-512 VNNI one
// vpdpbusd adds four products to each of 16 int32 lanes (16 columns); a
// micro-tile holds row_block × col_block = 8 × 32 sums in 16 registers and
// reads one 32-bit weight group per row and two column vectors per step.
// Elsewhere the same tiles run as plain loops. Integer sums are exact, so
// both paths equal gemm_reference (reference.hpp) bit for bit.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "nibble/config.hpp"
#include "nibble/kernels/int8/packing.hpp"
#include "nibble/kernels/parallel.hpp"

#if NIBBLE_ISA_AVX512_VNNI
#include <immintrin.h>
#endif

namespace nibble::kernels::int8 {

inline constexpr bool vnni_available = NIBBLE_ISA_AVX512_VNNI;

namespace detail {

// One row_block × col_block tile: rows [r0, r0 + row_block) of the packed
// weights (padding rows are zeros) times column tile t; stores the first
// `rows` rows and `cols` columns at out (row stride ldo).
inline void tile_portable(const packed_weights& w, const packed_columns& x, std::size_t r0, std::size_t t,
                          std::size_t rows, std::size_t cols, std::int32_t* out, std::size_t ldo) {
  std::int32_t acc[row_block][col_block] = {};
  const std::size_t groups = w.padded_depth / 4;
  for (std::size_t q = 0; q < groups; ++q) {
    const std::uint8_t* xg = x.group(t, q);
    for (std::size_t i = 0; i < row_block; ++i) {
      const std::int8_t* wg = w.codes.data() + (r0 + i) * w.padded_depth + 4 * q;
      for (std::size_t c = 0; c < col_block; ++c)
        for (std::size_t j = 0; j < 4; ++j) acc[i][c] += std::int32_t(wg[j]) * std::int32_t(xg[4 * c + j]);
    }
  }
  for (std::size_t i = 0; i < rows; ++i) std::memcpy(out + i * ldo, acc[i], cols * sizeof(std::int32_t));
}

#if NIBBLE_ISA_AVX512_VNNI
inline void tile_vnni(const packed_weights& w, const packed_columns& x, std::size_t r0, std::size_t t,
                      std::size_t rows, std::size_t cols, std::int32_t* out, std::size_t ldo) {
  __m512i acc[row_block][2];
  for (auto& a : acc) a[0] = a[1] = _mm512_setzero_si512();
  const std::size_t groups = w.padded_depth / 4;
  const std::int8_t* wr = w.codes.data() + r0 * w.padded_depth;
  const std::uint8_t* xg = x.group(t, 0);
  for (std::size_t q = 0; q < groups; ++q, xg += col_block * 4) {
    const __m512i x0 = _mm512_loadu_si512(xg), x1 = _mm512_loadu_si512(xg + 64);
    for (std::size_t i = 0; i < row_block; ++i) {
      std::int32_t group;
      std::memcpy(&group, wr + i * w.padded_depth + 4 * q, 4);
      const __m512i b = _mm512_set1_epi32(group);
      acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], x0, b);
      acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], x1, b);
    }
  }
  if (cols == col_block) {
    for (std::size_t i = 0; i < rows; ++i) {
      _mm512_storeu_si512(out + i * ldo, acc[i][0]);
      _mm512_storeu_si512(out + i * ldo + 16, acc[i][1]);
    }
  } else {
    alignas(64) std::int32_t lanes[col_block];
    for (std::size_t i = 0; i < rows; ++i) {
      _mm512_store_si512(lanes, acc[i][0]);
      _mm512_store_si512(lanes + 16, acc[i][1]);
      std::memcpy(out + i * ldo, lanes, cols * sizeof(std::int32_t));
    }
  }
}
#endif

}  // namespace detail

// Which tile code runs: the best this build has, or the portable loops
// (which tests compare with VNNI on a machine that has both).
enum class int8_path { best, portable };

// out (w.rows × x.cols, row stride ldo) = W · X. Tiles are shared among
// threads unless the caller already runs in parallel.
inline void packed_gemm(const packed_weights& w, const packed_columns& x, std::int32_t* out, std::size_t ldo,
                        int8_path path = int8_path::best) {
  const std::size_t row_tiles = w.padded_rows / row_block;
  const auto run = [&](std::size_t task) {
    const std::size_t rt = task % row_tiles, t = task / row_tiles;
    const std::size_t r0 = rt * row_block, c0 = t * col_block;
    const std::size_t rows = std::min(row_block, w.rows - r0), cols = std::min(col_block, x.cols - c0);
#if NIBBLE_ISA_AVX512_VNNI
    if (path == int8_path::best) {
      detail::tile_vnni(w, x, r0, t, rows, cols, out + r0 * ldo + c0, ldo);
      return;
    }
#endif
    (void)path;
    detail::tile_portable(w, x, r0, t, rows, cols, out + r0 * ldo + c0, ldo);
  };
  const std::size_t tasks = row_tiles * x.tiles;
  if (in_parallel()) {
    for (std::size_t i = 0; i < tasks; ++i) run(i);
  } else {
    parallel_for(tasks, [&](std::size_t i, int) { run(i); });
  }
}

}  // namespace nibble::kernels::int8
