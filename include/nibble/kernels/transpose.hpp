#pragma once
// Transposes of 32-bit element blocks, for the layouts the weight gradient
// of direct_conv.hpp needs (pixel-major copies of channel-major planes).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "nibble/config.hpp"
#if NIBBLE_ISA_AVX512F
#include <immintrin.h>
#endif

namespace nibble::kernels {

// out[j * out_stride + i] = in[i * in_stride + j] for i, j < 16 (32-bit
// elements; float and bf16 pairs alike).
inline void transpose_16x16(const std::uint32_t* in, std::size_t in_stride, std::uint32_t* out,
                            std::size_t out_stride) {
#if NIBBLE_ISA_AVX512F
  __m512i r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_si512(in + std::size_t(i) * in_stride);
  // Four rounds of interleaving: 32-bit pairs, 64-bit pairs, then 128-bit
  // lanes twice (the usual in-register transpose).
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // r[4g + q] lane L now holds column 4L + q of rows 4g..4g+3.
  for (int q = 0; q < 4; ++q) {
    t[q] = _mm512_shuffle_i32x4(r[q], r[4 + q], 0x88);
    t[4 + q] = _mm512_shuffle_i32x4(r[q], r[4 + q], 0xdd);
    t[8 + q] = _mm512_shuffle_i32x4(r[8 + q], r[12 + q], 0x88);
    t[12 + q] = _mm512_shuffle_i32x4(r[8 + q], r[12 + q], 0xdd);
  }
  for (int q = 0; q < 4; ++q) {
    r[q] = _mm512_shuffle_i32x4(t[q], t[8 + q], 0x88);
    r[8 + q] = _mm512_shuffle_i32x4(t[q], t[8 + q], 0xdd);
    r[4 + q] = _mm512_shuffle_i32x4(t[4 + q], t[12 + q], 0x88);
    r[12 + q] = _mm512_shuffle_i32x4(t[4 + q], t[12 + q], 0xdd);
  }
  for (int j = 0; j < 16; ++j) _mm512_storeu_si512(out + std::size_t(j) * out_stride, r[j]);
#else
  for (std::size_t i = 0; i < 16; ++i)
    for (std::size_t j = 0; j < 16; ++j) out[j * out_stride + i] = in[i * in_stride + j];
#endif
}

// out[j * out_stride + i] = in[i * in_stride + j] for i < rows, j < cols.
inline void transpose_block(const std::uint32_t* in, std::size_t in_stride, std::uint32_t* out,
                            std::size_t out_stride, std::size_t rows, std::size_t cols) {
  std::size_t i = 0;
  for (; i + 16 <= rows; i += 16) {
    std::size_t j = 0;
    for (; j + 16 <= cols; j += 16) transpose_16x16(in + i * in_stride + j, in_stride, out + j * out_stride + i, out_stride);
    for (; j < cols; ++j)
      for (std::size_t ii = i; ii < i + 16; ++ii) out[j * out_stride + ii] = in[ii * in_stride + j];
  }
  for (; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) out[j * out_stride + i] = in[i * in_stride + j];
}

}  // namespace nibble::kernels
