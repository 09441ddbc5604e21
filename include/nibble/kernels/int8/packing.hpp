#pragma once
// Operand layouts of the int8 product (packed_gemm.hpp). Both are padded so
// the micro-kernel never tests an edge:
//
//   weights  rows padded to a multiple of row_block, depth to a multiple of
//            4; row r holds its s8 codes in groups of four consecutive k
//            (one 32-bit word per group), zeros in the padding. Packed once.
//   columns  the u8 activation codes x[k][c] in tiles of col_block columns:
//            tile t, group q holds, for each of its columns, the four bytes
//            x[4q..4q+3][c]: exactly the operand of one vpdpbusd per 16
//            columns. Padding columns and depth are 0 (their products are
//            discarded or multiply zero weights).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace nibble::kernels::int8 {

inline constexpr std::size_t row_block = 8;   // output rows per micro-tile
inline constexpr std::size_t col_block = 32;  // columns per micro-tile (two 16-lane vectors)

constexpr std::size_t round_up(std::size_t n, std::size_t m) { return (n + m - 1) / m * m; }

struct packed_weights {
  std::size_t rows = 0, depth = 0, padded_rows = 0, padded_depth = 0;
  std::vector<std::int8_t> codes;       // padded_rows × padded_depth
  std::vector<std::int32_t> row_sums;   // Σ_k w[r][k], for zero-point corrections
};

inline void pack_weights(const std::int8_t* w, std::size_t rows, std::size_t depth, packed_weights& out) {
  out.rows = rows;
  out.depth = depth;
  out.padded_rows = round_up(rows, row_block);
  out.padded_depth = round_up(depth, 4);
  out.codes.assign(out.padded_rows * out.padded_depth, 0);
  out.row_sums.assign(rows, 0);
  for (std::size_t r = 0; r < rows; ++r) {
    std::memcpy(out.codes.data() + r * out.padded_depth, w + r * depth, depth);
    for (std::size_t k = 0; k < depth; ++k) out.row_sums[r] += w[r * depth + k];
  }
}

struct packed_columns {
  std::size_t depth = 0, cols = 0, padded_depth = 0, tiles = 0;
  std::vector<std::uint8_t> codes;  // tiles × padded_depth/4 × col_block × 4
  std::vector<std::uint8_t> row;    // scratch: one unpacked row of x

  void shape(std::size_t d, std::size_t c) {
    depth = d;
    cols = c;
    padded_depth = round_up(d, 4);
    tiles = (c + col_block - 1) / col_block;
    codes.resize(tiles * padded_depth * col_block);
    row.resize(tiles * col_block);
  }
  std::uint8_t* group(std::size_t tile, std::size_t q) { return codes.data() + (tile * padded_depth / 4 + q) * col_block * 4; }
  const std::uint8_t* group(std::size_t tile, std::size_t q) const {
    return codes.data() + (tile * padded_depth / 4 + q) * col_block * 4;
  }
};

// Packs x (depth × cols) given row by row: write_row(k, dst) stores the
// cols bytes x[k][0..cols) at dst.
template <class WriteRow>
void pack_columns(std::size_t depth, std::size_t cols, WriteRow&& write_row, packed_columns& out) {
  out.shape(depth, cols);
  std::fill(out.row.begin(), out.row.end(), std::uint8_t{0});
  for (std::size_t k = 0; k < out.padded_depth; ++k) {
    if (k < depth) write_row(k, out.row.data());
    else std::fill(out.row.begin(), out.row.end(), std::uint8_t{0});
    const std::size_t q = k / 4, j = k % 4;
    for (std::size_t t = 0; t < out.tiles; ++t) {
      std::uint8_t* g = out.group(t, q) + j;
      const std::uint8_t* src = out.row.data() + t * col_block;
      for (std::size_t c = 0; c < col_block; ++c) g[4 * c] = src[c];
    }
  }
}

}  // namespace nibble::kernels::int8
