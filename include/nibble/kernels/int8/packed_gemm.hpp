#pragma once
// out[r][c] = Σ_k w[r][k] · x[k][c] on packed operands (packing.hpp), in
// int32: s8 weight codes times u8 activation codes. Three micro-tiles:
//   AMX       32 × 32 sums in four tiles (amx.hpp), where the CPU and the
//             kernel allow it;
//   VNNI      one vpdpbusd adds four products to each of 16 int32 lanes
//             (16 columns); 8 × 32 sums in 16 registers, reading one 32-bit
//             weight group per row and two column vectors per step;
//   portable  the same 8 × 32 tiles as plain loops.
// Integer sums are exact, so every path equals gemm_reference
// (reference.hpp) bit for bit.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "nibble/config.hpp"
#include "nibble/kernels/int8/amx.hpp"
#include "nibble/kernels/int8/packing.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/kernels/plan.hpp"

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

// out (w.rows × x.cols, row stride ldo) = W · X, on `kernel` (the plan's,
// plan.hpp, unless given). Tiles are shared among threads unless the caller
// already runs in parallel. A kernel this build or machine lacks falls back
// to the portable loops.
inline void packed_gemm(const packed_weights& w, const packed_columns& x, std::int32_t* out, std::size_t ldo,
                        int8_kernel kernel = plan_int8_product()) {
  if (kernel == int8_kernel::amx && !detected_features().int8_tiles) kernel = int8_kernel::portable;
  if (kernel == int8_kernel::vnni && !detected_features().vnni) kernel = int8_kernel::portable;
  const bool amx = kernel == int8_kernel::amx;
  const std::size_t rows_per_tile = amx ? 2 * 16 : row_block;
  const std::size_t row_tiles = (w.rows + rows_per_tile - 1) / rows_per_tile;
  const std::size_t tasks = row_tiles * x.tiles;
  const auto each_task = [&](auto&& run) {
    if (in_parallel()) {
      for (std::size_t i = 0; i < tasks; ++i) run(i);
    } else {
      parallel_for(tasks, [&](std::size_t i, int) { run(i); });
    }
  };
  const auto edges = [&](std::size_t r0, std::size_t c0) {
    return std::pair{std::min(rows_per_tile, w.rows - r0), std::min(col_block, x.cols - c0)};
  };
#if NIBBLE_ISA_AMX_INT8
  if (amx) {
    // Row panels outside, column tiles inside: a 32-row weight panel stays
    // in L1 while the column tiles stream past it (measured 2.0 -> 3.5-3.9
    // TOP/s on VGG's 64 x 1024 x 576 product; the other order suits the
    // 8-row VNNI tiles).
    each_task([&](std::size_t task) {
      const std::size_t rt = task / x.tiles, t = task % x.tiles;
      const std::size_t r0 = rt * rows_per_tile, c0 = t * col_block;
      const auto [rows, cols] = edges(r0, c0);
      detail::tile_amx(w, x, r0, t, rows, cols, out + r0 * ldo + c0, ldo);
    });
    return;
  }
#endif
  (void)amx;
  // Row tiles inside: each column tile is read from L1 by all of them.
  each_task([&](std::size_t task) {
    const std::size_t rt = task % row_tiles, t = task / row_tiles;
    const std::size_t r0 = rt * rows_per_tile, c0 = t * col_block;
    const auto [rows, cols] = edges(r0, c0);
    std::int32_t* o = out + r0 * ldo + c0;
#if NIBBLE_ISA_AVX512_VNNI
    if (kernel == int8_kernel::vnni) {
      detail::tile_vnni(w, x, r0, t, rows, cols, o, ldo);
      return;
    }
#endif
    detail::tile_portable(w, x, r0, t, rows, cols, o, ldo);
  });
}

}  // namespace nibble::kernels::int8
