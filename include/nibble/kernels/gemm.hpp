#pragma once
// Single-precision matrix product C = A·B (+ C), cache-blocked in the manner
// of BLIS/GotoBLAS: B is packed into KC×NR panels that stay in L1, A into
// MR×KC slivers in L2, and a register-tiled micro-kernel keeps an MR×NR tile
// of C in vector registers for the whole K loop.
//
// Operands are strided views, so transposed inputs cost nothing extra: the
// packing routines read them in whatever order they are stored.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "nibble/kernels/bf16.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/kernels/simd.hpp"
#include "nibble/kernels/transpose.hpp"

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

namespace detail {

using namespace gemm_config;

// A[i0.., k0..] (mc×kc) -> slivers of MR rows, k-major inside, zero padded.
inline void pack_a(matrix_view a, std::size_t i0, std::size_t k0, std::size_t mc, std::size_t kc, float* out) {
  for (std::size_t i = 0; i < mc; i += MR) {
    const std::size_t rows = std::min(MR, mc - i);
    if (a.col_stride == 1) {
      for (std::size_t r = 0; r < rows; ++r) {
        const float* src = a.data + std::ptrdiff_t(i0 + i + r) * a.row_stride + std::ptrdiff_t(k0);
        for (std::size_t k = 0; k < kc; ++k) out[k * MR + r] = src[k];
      }
    } else {
      for (std::size_t k = 0; k < kc; ++k)
        for (std::size_t r = 0; r < rows; ++r) out[k * MR + r] = a(i0 + i + r, k0 + k);
    }
    for (std::size_t r = rows; r < MR; ++r)
      for (std::size_t k = 0; k < kc; ++k) out[k * MR + r] = 0.0f;
    out += MR * kc;
  }
}

// B[k0.., j0..] (kc×nc) -> panels of NR columns, k-major inside, zero padded.
inline void pack_b(matrix_view b, std::size_t k0, std::size_t j0, std::size_t kc, std::size_t nc, float* out) {
  for (std::size_t j = 0; j < nc; j += NR) {
    const std::size_t cols = std::min(NR, nc - j);
    if (b.col_stride == 1) {
      for (std::size_t k = 0; k < kc; ++k) {
        const float* src = b.data + std::ptrdiff_t(k0 + k) * b.row_stride + std::ptrdiff_t(j0 + j);
        float* dst = out + k * NR;
        std::memcpy(dst, src, cols * sizeof(float));
        for (std::size_t c = cols; c < NR; ++c) dst[c] = 0.0f;
      }
    } else if (b.row_stride == 1) {
      // B stored transposed: its panel's columns are rows in memory, so
      // the panel is a block transpose.
      const float* src = b.data + std::ptrdiff_t(j0 + j) * b.col_stride + std::ptrdiff_t(k0);
      transpose_block(reinterpret_cast<const std::uint32_t*>(src), std::size_t(b.col_stride),
                      reinterpret_cast<std::uint32_t*>(out), NR, cols, kc);
      if (cols < NR)
        for (std::size_t k = 0; k < kc; ++k) std::fill(out + k * NR + cols, out + (k + 1) * NR, 0.0f);
    } else {
      for (std::size_t k = 0; k < kc; ++k) {
        float* dst = out + k * NR;
        for (std::size_t c = 0; c < cols; ++c) dst[c] = b(k0 + k, j0 + j + c);
        for (std::size_t c = cols; c < NR; ++c) dst[c] = 0.0f;
      }
    }
    out += NR * kc;
  }
}

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

// Packing buffers, one pair per thread, grown once and then reused.
struct gemm_workspace {
  std::vector<float, aligned_allocator<float>> a, b;
};
inline gemm_workspace& thread_workspace() {
  static thread_local gemm_workspace ws;
  return ws;
}

// Packs operands straight from strided matrix views.
struct view_packer_a {
  matrix_view a;
  const float* operator()(std::size_t i0, std::size_t k0, std::size_t mc, std::size_t kc, float* out) const {
    pack_a(a, i0, k0, mc, kc, out);
    return out;
  }
};
struct view_packer_b {
  matrix_view b;
  void operator()(std::size_t k0, std::size_t j0, std::size_t kc, std::size_t nc, float* out) const {
    pack_b(b, k0, j0, kc, nc, out);
  }
};

// True for packers that write the bf16 pair layout of bf16.hpp.
template <class P>
inline constexpr bool packs_bf16 = [] {
  if constexpr (requires { P::bf16; })
    return bool(P::bf16);
  else
    return false;
}();

// A whole left operand packed once, for products that reuse it (the weights
// of a convolution, applied to every image of a batch). Block (ic, pc) of the
// GEMM loops is a contiguous range: all MR-slivers of one KC slice are stored
// together, slice after slice. With Bf16 (and hardware for it) the slivers
// hold bf16 pairs.
template <bool Bf16 = false>
class packed_a_matrix {
 public:
  static constexpr bool bf16 = Bf16 && bf16_available;
  void pack(matrix_view a, std::size_t m, std::size_t k) {
    m_padded_ = (m + MR - 1) / MR * MR;
    data_.resize(m_padded_ * k);
    if constexpr (!bf16) {
      for (std::size_t pc = 0; pc < k; pc += KC)
        pack_a(a, 0, pc, m, std::min(KC, k - pc), data_.data() + pc * m_padded_);
    } else {
      auto* out = reinterpret_cast<std::uint32_t*>(data_.data());
      for (std::size_t pc = 0; pc < k; pc += KC) {
        const std::size_t kc = std::min(KC, k - pc), kc2 = (kc + 1) / 2;
        for (std::size_t i = 0; i < m_padded_; i += MR, out += MR * kc2)
          for (std::size_t kp = 0; kp < kc2; ++kp)
            for (std::size_t r = 0; r < MR; ++r) {
              const std::size_t row = i + r, k0 = pc + 2 * kp;
              const float even = row < m ? a(row, k0) : 0.0f;
              const float odd = row < m && k0 + 1 < pc + kc ? a(row, k0 + 1) : 0.0f;
              out[kp * MR + r] = bf16_pair(even, odd);
            }
      }
    }
  }
  const float* operator()(std::size_t i0, std::size_t k0, std::size_t, std::size_t kc, float*) const {
    if constexpr (bf16)
      return data_.data() + k0 / 2 * m_padded_ + i0 * ((kc + 1) / 2);
    else
      return data_.data() + k0 * m_padded_ + i0 * kc;
  }

 private:
  std::size_t m_padded_ = 0;
  std::vector<float, aligned_allocator<float>> data_;
};

// One thread's share: rows [0, m) × columns [0, n) of C. The packers copy
// blocks of A and B into the layouts above; a packer that computes its block
// (an implicit im2col, say) never materialises the whole operand.
template <class PackA, class PackB>
void gemm_serial_packed(std::size_t m, std::size_t n, std::size_t k, const PackA& pack_a_block,
                        const PackB& pack_b_block, float* c, std::size_t ldc, bool accumulate) {
  static_assert(packs_bf16<PackA> == packs_bf16<PackB>, "nibble::gemm: both operands must be packed alike");
  [[maybe_unused]] constexpr bool bf16 = packs_bf16<PackB>;
  gemm_workspace& ws = thread_workspace();
  const std::size_t kc_max = std::min(KC, k);
  const std::size_t nc_max = std::min(NC, (n + NR - 1) / NR * NR);
  const std::size_t mc_max = std::min(MC, (m + MR - 1) / MR * MR);
  if (ws.b.size() < kc_max * nc_max) ws.b.resize(kc_max * nc_max);
  if (ws.a.size() < kc_max * mc_max) ws.a.resize(kc_max * mc_max);

  for (std::size_t jc = 0; jc < n; jc += NC) {
    const std::size_t nc = std::min(NC, n - jc);
    for (std::size_t pc = 0; pc < k; pc += KC) {
      const std::size_t kc = std::min(KC, k - pc);
      const bool acc = accumulate || pc > 0;
      pack_b_block(pc, jc, kc, nc, ws.b.data());
      for (std::size_t ic = 0; ic < m; ic += MC) {
        const std::size_t mc = std::min(MC, m - ic);
        const float* a_block = pack_a_block(ic, pc, mc, kc, ws.a.data());
        for (std::size_t jr = 0; jr < nc; jr += NR)
          for (std::size_t ir = 0; ir < mc; ir += MR) {
            float* c_tile = c + (ic + ir) * ldc + jc + jr;
            const std::size_t mr = std::min(MR, mc - ir), nr = std::min(NR, nc - jr);
            auto tile = [&]<std::size_t Rows>() {
#if NIBBLE_ISA_AVX512_BF16
              if constexpr (bf16) {
                const std::size_t kc2 = (kc + 1) / 2;
                micro_kernel_bf16<Rows>(kc2, reinterpret_cast<const std::uint32_t*>(a_block) + ir * kc2, MR,
                                        reinterpret_cast<const std::uint32_t*>(ws.b.data()) + jr * kc2, c_tile, ldc,
                                        mr, nr, acc);
                return;
              }
#endif
              micro_kernel<Rows>(kc, a_block + ir * kc, MR, ws.b.data() + jr * kc, c_tile, ldc, mr, nr, acc);
            };
            if (MR <= 8 || mr > 8)
              tile.template operator()<MR>();
            else if (mr > 4)
              tile.template operator()<8>();
            else
              tile.template operator()<4>();
          }
      }
    }
  }
  if (k == 0 && !accumulate)
    for (std::size_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
}

inline void gemm_serial(std::size_t m, std::size_t n, std::size_t k, matrix_view a, matrix_view b, float* c,
                        std::size_t ldc, bool accumulate) {
  gemm_serial_packed(m, n, k, view_packer_a{a}, view_packer_b{b}, c, ldc, accumulate);
}

// Packers over a sub-block of another packer's operand: A from K index
// k_offset on (a product over some of the images of a batch), B from
// (k_offset, j_offset) on (one thread's columns, or its images).
template <class PackA>
struct k_shifted_a {
  static constexpr bool bf16 = packs_bf16<PackA>;
  const PackA& inner;
  std::size_t k_offset;
  const float* operator()(std::size_t i0, std::size_t k0, std::size_t mc, std::size_t kc, float* out) const {
    return inner(i0, k_offset + k0, mc, kc, out);
  }
};
template <class PackB>
struct shifted_b {
  static constexpr bool bf16 = packs_bf16<PackB>;
  const PackB& inner;
  std::size_t k_offset, j_offset;
  void operator()(std::size_t k0, std::size_t j0, std::size_t kc, std::size_t nc, float* out) const {
    inner(k_offset + k0, j_offset + j0, kc, nc, out);
  }
};
}  // namespace detail

// gemm_serial_packed split between the threads along n (columns of C); the
// packers take absolute indices, so each thread packs only its own columns.
template <class PackA, class PackB>
void gemm_packed(std::size_t m, std::size_t n, std::size_t k, const PackA& pack_a_block, const PackB& pack_b_block,
                 float* c, std::size_t ldc, bool accumulate) {
  using gemm_config::NR;
  const std::size_t panels = (n + NR - 1) / NR;
  parallel_chunks(panels, [&](std::size_t p0, std::size_t p1, int) {
    const std::size_t j0 = p0 * NR, j1 = std::min(n, p1 * NR);
    detail::gemm_serial_packed(m, j1 - j0, k, pack_a_block, detail::shifted_b<PackB>{pack_b_block, 0, j0}, c + j0,
                               ldc, accumulate);
  });
}

// C[m×n] (row-major, ldc floats per row) = A[m×k]·B[k×n], plus the old C when
// `accumulate`. Called outside a parallel region it splits C between the
// threads along its longer side; inside one it runs on the calling thread.
inline void gemm(std::size_t m, std::size_t n, std::size_t k, matrix_view a, matrix_view b, float* c,
                 std::size_t ldc, bool accumulate = false) {
  using gemm_config::MR;
  using gemm_config::NR;
  const double flops = 2.0 * double(m) * double(n) * double(k);
  if (in_parallel() || max_threads() == 1 || flops < 2e6) {
    detail::gemm_serial(m, n, k, a, b, c, ldc, accumulate);
    return;
  }
  if (n >= m) {
    const std::size_t panels = (n + NR - 1) / NR;
    parallel_chunks(panels, [&](std::size_t p0, std::size_t p1, int) {
      const std::size_t j0 = p0 * NR, j1 = std::min(n, p1 * NR);
      detail::gemm_serial(m, j1 - j0, k, a, {b.data + std::ptrdiff_t(j0) * b.col_stride, b.row_stride, b.col_stride},
                          c + j0, ldc, accumulate);
    });
  } else {
    const std::size_t slivers = (m + MR - 1) / MR;
    parallel_chunks(slivers, [&](std::size_t s0, std::size_t s1, int) {
      const std::size_t i0 = s0 * MR, i1 = std::min(m, s1 * MR);
      detail::gemm_serial(i1 - i0, n, k, {a.data + std::ptrdiff_t(i0) * a.row_stride, a.row_stride, a.col_stride}, b,
                          c + i0 * ldc, ldc, accumulate);
    });
  }
}

}  // namespace nibble::kernels
