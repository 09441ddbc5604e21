#pragma once
// The one header that includes xsimd: its API changed a lot between
// releases, so everything nibble uses of it is named here.
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
inline fvec max(fvec a, fvec b) { return xsimd::max(a, b); }
inline fvec select_where(xsimd::batch_bool<float> mask, fvec a, fvec b) { return xsimd::select(mask, a, b); }
inline float reduce_add(fvec v) { return xsimd::hadd(v); }

}  // namespace nibble::kernels
