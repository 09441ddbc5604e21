#pragma once
// The packed layouts of the fp32/bf16 product: A in MR-row slivers, B in
// NR-column panels (bf16 pairs when a packer says so), the per-thread
// buffers they are packed into, and the packers the loops (loops.hpp) call:
// over strided views, over a whole A packed once, and over sub-blocks of
// another packer's operand.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "nibble/kernels/bf16.hpp"
#include "nibble/kernels/gemm/config.hpp"
#include "nibble/kernels/simd.hpp"
#include "nibble/kernels/transpose.hpp"

namespace nibble::kernels::detail {

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

}  // namespace nibble::kernels::detail
