#pragma once
// Floats to activation codes and back: c = clamp(nearbyint(x / step) + z, 0,
// max_code). Training writes the centred code c − z as a float (exact: at
// most 255 in magnitude); deployment writes c as a byte. Both go through
// code_of, so a trained layer and its deployed twin pick the same code for
// the same float.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "nibble/config.hpp"
#include "nibble/kernels/elementwise.hpp"
#include "nibble/kernels/simd.hpp"

#if NIBBLE_ISA_AVX512F
#include <immintrin.h>
#endif

namespace nibble::kernels {

struct code_grid {
  float step;    // the float one code step stands for
  float zero;    // the zero point z, an integer in [0, max_code]
  float max_code;
};

inline float code_of(float x, const code_grid& g) {
  return std::clamp(std::nearbyint(x / g.step) + g.zero, 0.0f, g.max_code);
}
inline fvec code_of(fvec x, const code_grid& g) {
  return vclamp(xsimd::nearbyint(x / broadcast(g.step)) + broadcast(g.zero), broadcast(0.0f), broadcast(g.max_code));
}

// {min, max} of x[0, n); {0, 0} when n = 0.
inline std::pair<float, float> min_max(const float* x, std::size_t n) {
  if (n == 0) return {0.0f, 0.0f};
  const std::size_t vn = n / fvec_width * fvec_width;
  float lo = x[0], hi = x[0];
  if (vn > 0) {
    fvec vlo = load(x), vhi = vlo;
    for (std::size_t i = fvec_width; i < vn; i += fvec_width) {
      const fvec v = load(x + i);
      vlo = select_where(v < vlo, v, vlo);
      vhi = select_where(v > vhi, v, vhi);
    }
    alignas(simd_alignment) float lanes[fvec_width];
    vlo.store_aligned(lanes);
    lo = *std::min_element(lanes, lanes + fvec_width);
    vhi.store_aligned(lanes);
    hi = *std::max_element(lanes, lanes + fvec_width);
  }
  for (std::size_t i = vn; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  return {lo, hi};
}

// out[i] = code_of(x[i]) − z, as floats.
inline void centered_codes(const float* x, float* out, std::size_t n, const code_grid& g) {
  for_chunks(n, [&](std::size_t b, std::size_t e) {
    const std::size_t ve = b + (e - b) / fvec_width * fvec_width;
    const fvec z = broadcast(g.zero);
    std::size_t i = b;
    for (; i < ve; i += fvec_width) store(out + i, code_of(load(x + i), g) - z);
    for (; i < e; ++i) out[i] = code_of(x[i], g) - g.zero;
  });
}

// Stores int32 lanes that hold bytes (0 to 255) as bytes: one narrowing
// store with AVX-512, lane by lane otherwise.
inline void store_bytes(xsimd::batch<std::int32_t> v, std::uint8_t* out) {
  static_assert(xsimd::batch<std::int32_t>::size == fvec_width);
#if NIBBLE_ISA_AVX512F
  if constexpr (fvec_width == 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm512_cvtepi32_epi8(v));
    return;
  }
#endif
  alignas(simd_alignment) std::int32_t lanes[fvec_width];
  v.store_aligned(lanes);
  for (std::size_t j = 0; j < fvec_width; ++j) out[j] = std::uint8_t(lanes[j]);
}

// out[i] = code_of(x[i]) as a byte. Codes are whole floats from 0 to 255,
// so the conversion to integers is exact.
inline void byte_codes(const float* x, std::uint8_t* out, std::size_t n, const code_grid& g) {
  const std::size_t vn = n / fvec_width * fvec_width;
  for (std::size_t i = 0; i < vn; i += fvec_width)
    store_bytes(xsimd::batch_cast<std::int32_t>(code_of(load(x + i), g)), out + i);
  for (std::size_t i = vn; i < n; ++i) out[i] = std::uint8_t(code_of(x[i], g));
}

// The straight-through estimator of the rounding, clipped: dx[i] is kept
// where x[i] falls inside the grid before clamping and zeroed where the
// clamp saturates (as PyTorch's FakeQuantize does).
inline void mask_outside_grid(const float* x, float* dx, std::size_t n, const code_grid& g) {
  for_chunks(n, [&](std::size_t b, std::size_t e) {
    const fvec step = broadcast(g.step), zero = broadcast(g.zero), top = broadcast(g.max_code), none = broadcast(0.0f);
    std::size_t i = b;
    for (; i + fvec_width <= e; i += fvec_width) {
      const fvec c = xsimd::nearbyint(load(x + i) / step) + zero;
      store(dx + i, select_where((c < none) || (c > top), none, load(dx + i)));
    }
    for (; i < e; ++i) {
      const float c = std::nearbyint(x[i] / g.step) + g.zero;
      if (c < 0.0f || c > g.max_code) dx[i] = 0.0f;
    }
  });
}

}  // namespace nibble::kernels
