#pragma once
// The first step after an integer product: a sum s (an integer held as a
// float) becomes a·s + b, computed as float(double(a)·double(s) + double(b)).
// The product of two floats is exact in double, so the one rounding of the
// sum (to double) and the conversion to float do not depend on whether a
// compiler fuses the multiply-add, nor on the CPU: training, the deployed
// network and the exported C (io/c_runtime.c, the same formula) give the
// same float, bit for bit, whatever their flags.
#include <cstddef>

#include "nibble/config.hpp"

#if NIBBLE_ISA_AVX
#include <immintrin.h>
#endif

namespace nibble::kernels {

inline float scaled_sum(float a, float s, float b) { return float(double(a) * double(s) + double(b)); }

namespace detail {
// y[i] = scaled_sum(a, s[i], b) with one a and b (Across = false) or one
// per element (Across = true, a[i] and b[i]). s may equal y.
template <bool Across>
void scaled_sums(const float* a, const float* b, const float* s, float* y, std::size_t n) {
  std::size_t i = 0;
#if NIBBLE_ISA_AVX
  const __m256d a1 = _mm256_set1_pd(double(*a)), b1 = _mm256_set1_pd(double(*b));
  for (const std::size_t vn = n / 4 * 4; i < vn; i += 4) {
    __m256d av = a1, bv = b1;
    if constexpr (Across) av = _mm256_cvtps_pd(_mm_loadu_ps(a + i)), bv = _mm256_cvtps_pd(_mm_loadu_ps(b + i));
    const __m256d v = _mm256_add_pd(_mm256_mul_pd(av, _mm256_cvtps_pd(_mm_loadu_ps(s + i))), bv);
    _mm_storeu_ps(y + i, _mm256_cvtpd_ps(v));
  }
#endif
  for (; i < n; ++i) {
    if constexpr (Across)
      y[i] = scaled_sum(a[i], s[i], b[i]);
    else
      y[i] = scaled_sum(*a, s[i], *b);
  }
}
}  // namespace detail

// y[i] = scaled_sum(a, s[i], b) for i < n: one channel's sums. s may equal y.
inline void scaled_sums(float a, float b, const float* s, float* y, std::size_t n) {
  detail::scaled_sums<false>(&a, &b, s, y, n);
}
// y[i] = scaled_sum(a[i], s[i], b[i]): one pixel's sums across channels.
inline void scaled_sums_across(const float* a, const float* b, const float* s, float* y, std::size_t n) {
  detail::scaled_sums<true>(a, b, s, y, n);
}

}  // namespace nibble::kernels
