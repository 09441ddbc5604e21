#pragma once
// bf16 products on AMX tiles, for the direct convolution (direct_conv.hpp)
// and its weight gradient (direct_weight_gradient.hpp). One tdpbf16ps
// multiplies a 16 × 16-pair tile (16 rows, 32 bf16 each) by a 16-pair ×
// 16 tile into 16 × 16 fp32 sums: 8,192 multiply-adds, against 32 for one
// vdpbf16ps. Each routine keeps four sum tiles (2 × 2 blocks of 16), two A
// and two B tiles in the eight registers.
//
// The operands are the same bf16 pairs the AVX512-BF16 kernels read and
// the sums stay fp32, so only the order of the sums differs: where every
// product and partial sum is exact (integer codes), the two agree bit for
// bit.
#include <cstddef>
#include <cstdint>

#include "nibble/config.hpp"
#include "nibble/kernels/amx.hpp"

namespace nibble::kernels {

#if NIBBLE_ISA_AMX_BF16
namespace amx {

// Words (bf16 pairs) in one A or B tile.
inline constexpr std::size_t tile_words = 16 * 16;

// The direct convolution's 32 × 32 block: sums[r][j] for output channels
// r of two 16-row weight blocks and positions j of two 16-position runs,
//   Σ_t Σ_b A(block, t, b) · B(b, run + tap_offset[t]),
// where A(block, t, b) is one packed tile (a0 for the first block, a1 for
// the second, tiles in (t, b) order) and B's row r is the 16 pairs at
// run + tap_offset[t] in pair plane 16·b + r (planes plane_stride words
// apart). The sums start from init0 / init1 (16 × 16 each: the bias) and
// go to c00 … c11 (block, run), ldc floats between rows.
inline void direct_tile(std::size_t taps, const std::ptrdiff_t* tap_offset, std::size_t plane_blocks,
                        std::size_t plane_stride, const std::uint32_t* a0, const std::uint32_t* a1,
                        const std::uint32_t* run0, const std::uint32_t* run1, const float* init0, const float* init1,
                        float* c00, float* c01, float* c10, float* c11, std::size_t ldc) {
  configure_tiles_once();
  _tile_loadd(0, init0, 64);
  _tile_loadd(1, init0, 64);
  _tile_loadd(2, init1, 64);
  _tile_loadd(3, init1, 64);
  const std::size_t b_stride = plane_stride * sizeof(std::uint32_t), block_step = 16 * plane_stride;
  for (std::size_t t = 0; t < taps; ++t) {
    const std::uint32_t* b0 = run0 + tap_offset[t];
    const std::uint32_t* b1 = run1 + tap_offset[t];
    for (std::size_t b = 0; b < plane_blocks; ++b, a0 += tile_words, a1 += tile_words) {
      // Tile registers are not renamed: loads are spread between products.
      _tile_loadd(4, a0, 64);
      _tile_loadd(6, b0 + b * block_step, b_stride);
      _tile_dpbf16ps(0, 4, 6);
      _tile_loadd(7, b1 + b * block_step, b_stride);
      _tile_dpbf16ps(1, 4, 7);
      _tile_loadd(5, a1, 64);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  const std::size_t c_stride = ldc * sizeof(float);
  _tile_stored(0, c00, c_stride);
  _tile_stored(1, c01, c_stride);
  _tile_stored(2, c10, c_stride);
  _tile_stored(3, c11, c_stride);
}

// The weight gradient's 32 × 32 block at one tap: c[r][j] += Σ_k A[r][k] ·
// B[k][j] over k_blocks blocks of 16 pairs, A's rows being 16 pairs of two
// 16-row blocks (a0, a1; lda words between rows) and B's rows 16 pairs of
// two 16-column blocks (b0, b1; ldb words between rows). c00 … c11 (A
// block, B block) hold the sums before and after, ldc floats between rows.
inline void accumulate_tile(std::size_t k_blocks, const std::uint32_t* a0, const std::uint32_t* a1, std::size_t lda,
                            const std::uint32_t* b0, const std::uint32_t* b1, std::size_t ldb, float* c00, float* c01,
                            float* c10, float* c11, std::size_t ldc) {
  configure_tiles_once();
  const std::size_t c_stride = ldc * sizeof(float), a_stride = lda * sizeof(std::uint32_t),
                    b_stride = ldb * sizeof(std::uint32_t), b_step = 16 * ldb;
  _tile_loadd(0, c00, c_stride);
  _tile_loadd(1, c01, c_stride);
  _tile_loadd(2, c10, c_stride);
  _tile_loadd(3, c11, c_stride);
  for (std::size_t k = 0; k < k_blocks; ++k, a0 += 16, a1 += 16, b0 += b_step, b1 += b_step) {
    _tile_loadd(4, a0, a_stride);
    _tile_loadd(6, b0, b_stride);
    _tile_dpbf16ps(0, 4, 6);
    _tile_loadd(7, b1, b_stride);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(5, a1, a_stride);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c00, c_stride);
  _tile_stored(1, c01, c_stride);
  _tile_stored(2, c10, c_stride);
  _tile_stored(3, c11, c_stride);
}

}  // namespace amx
#endif

}  // namespace nibble::kernels
