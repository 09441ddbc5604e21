#pragma once
// A deployed layer as a row of a layer table: what it is, its geometry and
// the tensors it reads, in the order a table-driven runtime reads them (the
// C header's, io/c_runtime.c). Each deployed layer writes its own row
// (table_row()); the parameter-free layers it shares with training get
// theirs here. Exporters only iterate.
#include <cstddef>
#include <span>
#include <vector>

#include "nibble/layers/flatten.hpp"
#include "nibble/layers/global_avg_pool.hpp"
#include "nibble/layers/max_pool2d.hpp"
#include "nibble/layers/relu.hpp"

namespace nibble::deploy {

// The C runtime's layer kinds (io/c_runtime.c), by number. The last ones
// have no deployed layer of their own: the C exporter puts quantize (floats
// to codes) where floats meet an integer layer, and reads save (the block's
// input kept), swap (a projection's output kept instead, the block's input
// handed to the body) and integer_add (the sum in integers, formed by the
// body's last layer) as markers that make no rows; add (the float sum) and
// quantized_add (a quantized sum in float, quant/quantized_sum.hpp) end a
// block whose sum is not formed in integers.
enum class layer_kind {
  conv = 1, linear, relu, maxpool, flatten, avgpool, affine, image, quantize, save, add, swap, quantized_add,
  integer_add, depthwise
};

struct table_row {
  layer_kind kind{};
  // Kernel and padding along the height; along the width when they differ
  // (0: the same, a square kernel).
  std::size_t kernel = 0, kernel_width = 0, stride = 0, pad = 0, pad_width = 0;
  std::size_t kernel_w() const { return kernel_width ? kernel_width : kernel; }
  std::size_t pad_w() const { return kernel_width ? pad_width : pad; }
  bool relu = false;
  int weight_bits = 0;      // 4: two codes per byte, low nibble first; 8: one signed byte each
  int activation_bits = 0;  // 0: float input; else its input becomes codes on the layer's grid
  bool norm = false;        // a folded batch norm follows the epilogue
  std::span<const std::byte> codes{};       // packed weight codes (the layer's own)
  std::vector<std::vector<float>> floats{};  // copies, read in this order
};

template <class In>
table_row table_row_of(const relu_layer<In>&) {
  return {.kind = layer_kind::relu};
}
template <class In, std::size_t K>
table_row table_row_of(const max_pool2d_layer<In, K>&) {
  return {.kind = layer_kind::maxpool, .kernel = K};
}
template <class In>
table_row table_row_of(const flatten_layer<In>&) {
  return {.kind = layer_kind::flatten};
}
template <class In>
table_row table_row_of(const global_avg_pool_layer<In>&) {
  return {.kind = layer_kind::avgpool};
}
template <class L>
  requires requires(const L& l) { l.table_row(); }
table_row table_row_of(const L& l) {
  return l.table_row();
}

// Whether a layer has a row: residual blocks and float weights have none.
template <class L>
inline constexpr bool has_table_row = requires(const L& l) { table_row_of(l); };

}  // namespace nibble::deploy
