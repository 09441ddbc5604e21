#pragma once
// The one header that includes xsimd: its API changed a lot between
// releases, so everything nibble uses of it is named here.
#include <cstddef>

#include <xsimd/xsimd.hpp>

namespace nibble::kernels {

// Widest float vector for the architecture this file is compiled for
// (SSE2 by default, AVX-512 with -march=native on a machine that has it).
using fvec = xsimd::batch<float>;
inline constexpr std::size_t fvec_width = fvec::size;
inline constexpr std::size_t simd_alignment = 64;

template <class T>
using aligned_allocator = xsimd::aligned_allocator<T, simd_alignment>;

inline fvec fma(fvec a, fvec b, fvec c) { return xsimd::fma(a, b, c); }
inline fvec load_aligned(const float* p) { return fvec::load_aligned(p); }
inline fvec load(const float* p) { return fvec::load_unaligned(p); }
inline void store(float* p, fvec v) { v.store_unaligned(p); }
inline fvec broadcast(float x) { return fvec(x); }
inline fvec select_where(xsimd::batch_bool<float> mask, fvec a, fvec b) { return xsimd::select(mask, a, b); }
inline float reduce_add(fvec v) { return xsimd::hadd(v); }


// dst[i] = src[i] for i < n, for short runs: vector moves (the last one may
// overlap the one before) instead of the call to memmove that the compiler
// would make of a plain loop.
inline void copy_short(float* dst, const float* src, std::size_t n) {
  if (n >= fvec_width) {
    std::size_t i = 0;
    for (; i + fvec_width <= n; i += fvec_width) store(dst + i, load(src + i));
    if (i < n) store(dst + n - fvec_width, load(src + n - fvec_width));
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      dst[i] = src[i];
      asm("" ::: "memory");  // keeps this loop a loop (no memmove call)
    }
  }
}

// Σ p[i] over n floats, vectorised (a plain loop would not be: float
// addition is not associative, so the compiler keeps it in order).
inline float sum(const float* p, std::size_t n) {
  fvec acc = broadcast(0.0f);
  std::size_t i = 0;
  for (; i + fvec_width <= n; i += fvec_width) acc = acc + load(p + i);
  float s = reduce_add(acc);
  for (; i < n; ++i) s += p[i];
  return s;
}

// Σ (p[i] − m)², vectorised.
inline float sum_squared_deviation(const float* p, std::size_t n, float m) {
  const fvec mv = broadcast(m);
  fvec acc = broadcast(0.0f);
  std::size_t i = 0;
  for (; i + fvec_width <= n; i += fvec_width) {
    const fvec d = load(p + i) - mv;
    acc = fma(d, d, acc);
  }
  float s = reduce_add(acc);
  for (; i < n; ++i) s += (p[i] - m) * (p[i] - m);
  return s;
}

// Σ a[i]·(b[i] − m), vectorised.
inline float sum_product_centered(const float* a, const float* b, std::size_t n, float m) {
  const fvec mv = broadcast(m);
  fvec acc = broadcast(0.0f);
  std::size_t i = 0;
  for (; i + fvec_width <= n; i += fvec_width) acc = fma(load(a + i), load(b + i) - mv, acc);
  float s = reduce_add(acc);
  for (; i < n; ++i) s += a[i] * (b[i] - m);
  return s;
}

}  // namespace nibble::kernels
