#pragma once
// bf16 arithmetic for the GEMM: operands rounded to bfloat16 (8-bit
// mantissa) and multiplied in pairs by AVX512-BF16's vdpbf16ps, which does
// twice the multiply-adds of an fp32 FMA per instruction; sums stay fp32.
// Packed layout: two consecutive k values of one row/column share a 32-bit
// word (low half k even, high half k odd).
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "nibble/config.hpp"
#if NIBBLE_ISA_AVX512_BF16
#include <immintrin.h>
#endif

#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

// True when this translation unit is compiled for a CPU with AVX512-BF16;
// otherwise bf16 requests run the fp32 kernels.
inline constexpr bool bf16_available = NIBBLE_ISA_AVX512_BF16 && fvec_width == 16;

// Round to nearest even, as the hardware conversion does.
inline std::uint32_t to_bf16_bits(float x) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  return (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
}
inline std::uint32_t bf16_pair(float even, float odd) { return to_bf16_bits(even) | (to_bf16_bits(odd) << 16); }
inline float bf16_round(float x) { return std::bit_cast<float>(to_bf16_bits(x) << 16); }

// out[j] = pair(even[j], odd[j]) for j < n (n a multiple of 16 when vectorised).
inline void pack_bf16_rows(const float* even, const float* odd, std::uint32_t* out, std::size_t n) {
  std::size_t j = 0;
#if NIBBLE_ISA_AVX512_BF16
  // cvtne2ps gives [16 × bf16(even) | 16 × bf16(odd)]; the permutation
  // interleaves them into (even, odd) pairs.
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                              6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  for (; j + 16 <= n; j += 16) {
    const __m512bh both = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(odd + j), _mm512_loadu_ps(even + j));
    _mm512_storeu_si512(out + j, _mm512_permutexvar_epi16(interleave, (__m512i)both));
  }
#endif
  for (; j < n; ++j) out[j] = bf16_pair(even[j], odd[j]);
}

// out[kp] = pair(line[2kp], line[2kp+1]) for kp < ceil(n / 2); a missing odd
// element is 0.
inline void pack_bf16_line(const float* line, std::size_t n, std::uint32_t* out) {
  std::size_t i = 0;
#if NIBBLE_ISA_AVX512_BF16
  // Converting 16 consecutive floats gives 16 bf16 in order: 8 pairs.
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i / 2), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(line + i)));
#endif
  for (; i < n; i += 2) out[i / 2] = bf16_pair(line[i], i + 1 < n ? line[i + 1] : 0.0f);
}

#if NIBBLE_ISA_AVX512_BF16
// C tile (Rows × 32) += A sliver · B panel over kc2 pairs of k; A's pairs
// for one k pair are Rows consecutive words, a_stride words after the last
// k pair's (a packed sliver has a_stride = MR).
template <std::size_t Rows>
inline void micro_kernel_bf16(std::size_t kc2, const std::uint32_t* __restrict a, std::size_t a_stride,
                              const std::uint32_t* __restrict b, float* c, std::size_t ldc, std::size_t m,
                              std::size_t n, bool accumulate) {
  constexpr std::size_t NR = 32;
  __m512 acc[Rows][2];
#pragma GCC unroll 16
  for (std::size_t i = 0; i < Rows; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (std::size_t k = 0; k < kc2; ++k) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = (__m512bh)_mm512_load_si512(b + 16);
#pragma GCC unroll 16
    for (std::size_t i = 0; i < Rows; ++i) {
      const __m512bh ai = (__m512bh)_mm512_set1_epi32(int(a[i]));
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
    }
    a += a_stride;
    b += NR;
  }
  if (m == Rows && n == NR) {
#pragma GCC unroll 16
    for (std::size_t i = 0; i < Rows; ++i)
      for (std::size_t v = 0; v < 2; ++v) {
        float* p = c + i * ldc + v * 16;
        _mm512_storeu_ps(p, accumulate ? _mm512_add_ps(acc[i][v], _mm512_loadu_ps(p)) : acc[i][v]);
      }
  } else {
    alignas(64) float tile[Rows * NR];
    for (std::size_t i = 0; i < Rows; ++i)
      for (std::size_t v = 0; v < 2; ++v) _mm512_store_ps(tile + i * NR + v * 16, acc[i][v]);
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + tile[i * NR + j];
  }
}

// 16 pairs from p, or with Split 8 from p and 8 from p + second (two
// output rows of 8 pixels).
template <bool Split>
inline __m512bh load_pixels_bf16(const std::uint32_t* p, std::ptrdiff_t second) {
  if constexpr (Split)
    return (__m512bh)_mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)p)),
                                        _mm256_loadu_si256((const __m256i*)(p + second)), 1);
  else
    return (__m512bh)_mm512_loadu_si512(p);
}

// The direct convolution's tile (direct_conv.hpp): C (m ≤ Rows rows × 32)
// = bias + Σ over taps t and planes p of A · B, where the B operand is read
// in place from padded pair planes: its 16-lane vector v is the 16 pairs at
// b[v] + tap_offset[t] + p·plane_stride (with Split, 8 there and 8 at
// `second` further). A holds, per tap and plane, one pair for each of
// AStride rows.
template <std::size_t Rows, std::size_t AStride, bool Split>
inline void direct_kernel_bf16(std::size_t taps, const std::ptrdiff_t* tap_offset, std::size_t planes,
                               std::size_t plane_stride, const std::uint32_t* __restrict a, const std::uint32_t* b0,
                               const std::uint32_t* b1, std::ptrdiff_t second, float* c, std::size_t ldc,
                               std::size_t m, const float* bias) {
  __m512 acc[Rows][2];
#pragma GCC unroll 16
  for (std::size_t i = 0; i < Rows; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (std::size_t t = 0; t < taps; ++t) {
    const std::uint32_t* p0 = b0 + tap_offset[t];
    const std::uint32_t* p1 = b1 + tap_offset[t];
    for (std::size_t p = 0; p < planes; ++p) {
      const __m512bh v0 = load_pixels_bf16<Split>(p0, second), v1 = load_pixels_bf16<Split>(p1, second);
#pragma GCC unroll 16
      for (std::size_t i = 0; i < Rows; ++i) {
        const __m512bh ai = (__m512bh)_mm512_set1_epi32(int(a[i]));
        acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, v0);
        acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, v1);
      }
      a += AStride;
      p0 += plane_stride;
      p1 += plane_stride;
    }
  }
#pragma GCC unroll 16
  for (std::size_t i = 0; i < Rows; ++i) {
    if (i >= m) break;
    const __m512 b = _mm512_set1_ps(bias ? bias[i] : 0.0f);
    _mm512_storeu_ps(c + i * ldc, _mm512_add_ps(acc[i][0], b));
    _mm512_storeu_ps(c + i * ldc + 16, _mm512_add_ps(acc[i][1], b));
  }
}
#endif

}  // namespace nibble::kernels
