#pragma once
// The loops of the fp32/bf16 product: one thread's blocked loop nest over
// packed blocks (gemm_serial_packed), and the entry points that share the
// work between threads (gemm_packed, gemm).
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "nibble/config.hpp"
#include "nibble/kernels/bf16.hpp"
#include "nibble/kernels/gemm/config.hpp"
#include "nibble/kernels/gemm/micro_kernel.hpp"
#include "nibble/kernels/gemm/packing.hpp"
#include "nibble/kernels/parallel.hpp"

namespace nibble::kernels {

namespace detail {

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
            with_sliver_height(mr, tile);
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
