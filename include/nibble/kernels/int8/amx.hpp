#pragma once
// The int8 micro-tile on AMX: one tdpbsud multiplies a 16 × 64 tile of s8
// weight codes by a 16 × 64 tile of u8 activation codes (16 groups of four
// k for 16 columns: exactly a packed_columns group row) into a 16 × 16
// tile of int32 sums, 16,384 products per instruction. A micro-tile of
// 32 rows × 32 columns keeps four sum tiles, two weight and two column
// tiles in the eight tile registers.
// The tile state and its configuration are kernels/amx.hpp's.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "nibble/config.hpp"
#include "nibble/kernels/amx.hpp"
#include "nibble/kernels/int8/packing.hpp"

namespace nibble::kernels::int8 {

using kernels::amx_usable;

#if NIBBLE_ISA_AMX_INT8
namespace detail {

// Copies the first rows × cols of a 16 × 16 block of sums to out.
inline void keep_sums(const std::int32_t (&sums)[16][16], std::int32_t* out, std::size_t ldo, std::size_t rows,
                      std::size_t cols) {
  for (std::size_t i = 0; i < rows; ++i) std::memcpy(out + i * ldo, sums[i], cols * sizeof(std::int32_t));
}

// Rows [r0, r0 + 32) of the packed weights times column tile t; stores the
// first `rows` rows and `cols` columns at out (row stride ldo).
inline void tile_amx(const packed_weights& w, const packed_columns& x, std::size_t r0, std::size_t t,
                     std::size_t rows, std::size_t cols, std::int32_t* out, std::size_t ldo) {
  amx::configure_tiles_once();
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  const std::int8_t* w0 = w.codes.data() + r0 * w.padded_depth;
  const std::int8_t* w1 = w0 + 16 * w.padded_depth;
  const std::uint8_t* xg = x.group(t, 0);
  for (std::size_t k = 0; k < w.padded_depth; k += 64, xg += 16 * col_block * 4) {
    // Tile registers are not renamed: each load waits for the products
    // still reading its register, so loads are spread between products.
    _tile_loadd(4, w0 + k, w.padded_depth);
    _tile_loadd(6, xg, col_block * 4);  // columns 0–15
    _tile_dpbsud(0, 4, 6);
    _tile_loadd(7, xg + 64, col_block * 4);  // columns 16–31
    _tile_dpbsud(1, 4, 7);
    _tile_loadd(5, w1 + k, w.padded_depth);
    _tile_dpbsud(2, 5, 6);
    _tile_dpbsud(3, 5, 7);
  }
  if (rows == 32 && cols == 32) {  // the common case: straight to the output
    const std::size_t stride = ldo * sizeof(std::int32_t);
    _tile_stored(0, out, stride);
    _tile_stored(1, out + 16, stride);
    _tile_stored(2, out + 16 * ldo, stride);
    _tile_stored(3, out + 16 * ldo + 16, stride);
    return;
  }
  alignas(64) std::int32_t sums[4][16][16];
  _tile_stored(0, sums[0], 64);  // (tile numbers must be constants)
  _tile_stored(1, sums[1], 64);
  _tile_stored(2, sums[2], 64);
  _tile_stored(3, sums[3], 64);
  const std::size_t top = std::min<std::size_t>(rows, 16), bottom = rows > 16 ? rows - 16 : 0;
  const std::size_t left = std::min<std::size_t>(cols, 16), right = cols > 16 ? cols - 16 : 0;
  keep_sums(sums[0], out, ldo, top, left);
  keep_sums(sums[1], out + 16, ldo, top, right);
  keep_sums(sums[2], out + 16 * ldo, ldo, bottom, left);
  keep_sums(sums[3], out + 16 * ldo + 16, ldo, bottom, right);
}

}  // namespace detail

#endif

}  // namespace nibble::kernels::int8
