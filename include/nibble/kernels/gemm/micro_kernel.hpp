#pragma once
// The fp32 register-tiled micro-kernel of the product (its bf16 twin,
// micro_kernel_bf16, lives in bf16.hpp with the other AVX512-BF16 code).
#include <cstddef>

#include "nibble/kernels/gemm/config.hpp"
#include "nibble/kernels/simd.hpp"

namespace nibble::kernels::detail {

using namespace gemm_config;

// The Rows×NR tile of C += (packed A sliver)·(packed B panel) over kc.
// Rows is MR, or fewer for the last sliver of a matrix whose height is not a
// multiple of MR (64 rows = 5 full slivers + 4 rows), so no time goes into
// rows of zeros. `accumulate` false overwrites C. Partial tiles (m < Rows or
// n < NR) go through a small buffer so the hot loop never checks bounds.
// A's Rows values for one k are consecutive, a_stride floats after the
// last k's (MR in a packed sliver).
template <std::size_t Rows = MR>
void micro_kernel(std::size_t kc, const float* __restrict a, std::size_t a_stride, const float* __restrict b, float* c,
                  std::size_t ldc, std::size_t m, std::size_t n, bool accumulate) {
  fvec acc[Rows][NV];
#pragma GCC unroll 16
  for (std::size_t i = 0; i < Rows; ++i)
#pragma GCC unroll 4
    for (std::size_t v = 0; v < NV; ++v) acc[i][v] = broadcast(0.0f);

  for (std::size_t k = 0; k < kc; ++k) {
    fvec bv[NV];
#pragma GCC unroll 4
    for (std::size_t v = 0; v < NV; ++v) bv[v] = load_aligned(b + v * fvec_width);
#pragma GCC unroll 16
    for (std::size_t i = 0; i < Rows; ++i) {
      const fvec ai = broadcast(a[i]);
#pragma GCC unroll 4
      for (std::size_t v = 0; v < NV; ++v) acc[i][v] = fma(ai, bv[v], acc[i][v]);
    }
    a += a_stride;
    b += NR;
  }

  if (m == Rows && n == NR) {
#pragma GCC unroll 16
    for (std::size_t i = 0; i < Rows; ++i)
#pragma GCC unroll 4
      for (std::size_t v = 0; v < NV; ++v) {
        float* p = c + i * ldc + v * fvec_width;
        store(p, accumulate ? acc[i][v] + load(p) : acc[i][v]);
      }
  } else {
    alignas(simd_alignment) float tile[Rows * NR];
    for (std::size_t i = 0; i < Rows; ++i)
      for (std::size_t v = 0; v < NV; ++v) acc[i][v].store_aligned(tile + i * NR + v * fvec_width);
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + tile[i * NR + j];
  }
}

// tile.template operator()<Rows>() with the micro-kernel height for a
// sliver of `rows` rows: MR, or 8 or 4 for a short last sliver, so no time
// goes into rows of zeros.
template <class Tile>
void with_sliver_height(std::size_t rows, Tile&& tile) {
  if (MR <= 8 || rows > 8)
    tile.template operator()<MR>();
  else if (rows > 4)
    tile.template operator()<8>();
  else
    tile.template operator()<4>();
}

}  // namespace nibble::kernels::detail
