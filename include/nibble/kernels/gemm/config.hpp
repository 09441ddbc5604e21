#pragma once
// The shapes of the fp32/bf16 product (gemm.hpp): strided operand views and
// the register tile and cache blocks every other gemm/ header is sized by.
#include <cstddef>

#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

// Element (i, j) of a read-only matrix lives at data[i * row_stride + j * col_stride].
struct matrix_view {
  const float* data;
  std::ptrdiff_t row_stride;
  std::ptrdiff_t col_stride;
  float operator()(std::size_t i, std::size_t j) const {
    return data[std::ptrdiff_t(i) * row_stride + std::ptrdiff_t(j) * col_stride];
  }
};
// A row-major matrix with `ld` floats per row, as stored or transposed.
inline matrix_view row_major(const float* p, std::size_t ld) { return {p, std::ptrdiff_t(ld), 1}; }
inline matrix_view transposed(const float* p, std::size_t ld) { return {p, 1, std::ptrdiff_t(ld)}; }

namespace gemm_config {
// Register tile: NV vectors wide (NR floats), MR rows tall. 24 accumulators
// on AVX-512 (32 registers), 12 on AVX2/SSE (16 registers).
inline constexpr std::size_t NV = 2;
inline constexpr std::size_t NR = NV * fvec_width;
inline constexpr std::size_t MR = fvec_width >= 16 ? 12 : 6;
// Cache blocks: a KC×NR panel of B fits in L1, an MC×KC block of A in L2.
inline constexpr std::size_t KC = 256;
inline constexpr std::size_t MC = MR * 12;
inline constexpr std::size_t NC = NR * 128;
}  // namespace gemm_config

}  // namespace nibble::kernels
