#pragma once
// A deployed network as one C header for microcontrollers: its packed weight
// codes, its requantizations, the floats of its float layers, a table of
// its layers, and the forward pass for one image (io/c_runtime.c,
// embedded). A header in the manner of stb: every file that includes it
// sees the declarations; the one that defines PREFIX_IMPLEMENTATION first
// gets the tables and the code.
//
//   #define VGG4BIT_IMPLEMENTATION   /* in one .c file */
//   #include "vgg4bit.h"
//   static float arena[VGG4BIT_ARENA_FLOATS];     /* the network's RAM */
//   const float* logits = vgg4bit_forward(image, arena);   /* image: C×H×W bytes */
//
// Every name in the header starts with the prefix the caller chooses, so
// several models can live in one program. Weights and tables are const
// (flash), placed by PREFIX_WEIGHTS (an attribute, empty by default: e.g.
// __attribute__((section(".nibble"), aligned(4)))).
//
// Integer networks run on integers alone: the image's bytes become codes
// through a table per channel, each integer layer hands the next its u8
// codes, channels last, requantized by a multiplier and shift per filter
// fitted to the library's epilogue (deploy/requantization.hpp) — a ReLU,
// max pools and a flatten between them become part of that step or pass
// codes — and the last layer scales its int32 sums in double (no libm).
// The codes and the outputs are the library's, bit for bit, whatever the
// C compiler and its flags. Float layers (weight-only networks, an
// integer layer's output that meets a float layer) are the library's
// formulas with fmaf where it fuses: they agree to float rounding, bit for
// bit where the sums are integers and the library is built with FMA; they
// need <math.h>. The RAM is one arena the exporter plans (place(), below):
// each row reads and writes where its table row says.
//
// Exportable layers: those with a layer-table row (deploy/table_row.hpp):
// the image input, deployed conv2d, depthwise conv2d and linear
// (weight-only or integer), channel_affine, relu, max_pool2d, flatten and global_avg_pool; and
// residual blocks of them (not nested, with or without a projection
// shortcut), whose input the arena keeps for the sum: as codes, the sum in
// integers, where it is quantized (quant/quantized_sum.hpp) and the
// block's chains end in integer layers; as floats otherwise. Float weights are refused when the header is built
// (a compile error says so).
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "nibble/config.hpp"
#include "nibble/deploy/convert.hpp"
#include "nibble/deploy/requantization.hpp"
#include "nibble/deploy/table_row.hpp"
#include "nibble/io/error.hpp"
#include "nibble/io/files.hpp"
#include "nibble/io/model_file.hpp"
#include "nibble/layers/flatten.hpp"
#include "nibble/layers/global_avg_pool.hpp"
#include "nibble/layers/max_pool2d.hpp"
#include "nibble/layers/relu.hpp"
#include "nibble/net/describe.hpp"

namespace nibble {

namespace detail {

// A deployed layer as the exporter sees it: its row, its shapes, and for
// integer layers and the image input, what makes their codes.
struct c_layer {
  deploy::table_row row;
  std::size_t in_c = 0, in_h = 0, in_w = 0, out_c = 0, out_h = 0, out_w = 0;
  std::optional<kernels::code_grid> input_grid{};  // integer layers
  std::function<std::vector<deploy::requantizer>(const kernels::code_grid&, bool)> requantizers{};
  std::function<std::vector<std::int32_t>()> zero_point_sums{};
  std::function<std::vector<std::uint8_t>(const kernels::code_grid&)> code_table{};  // the image input
  // The markers of a residual block whose sum stays in integers (save, swap,
  // integer_add): the block's step, and its input's grid.
  std::optional<kernels::code_grid> block_grid{};
  bool projection = false;
  bool integer() const { return input_grid.has_value(); }
  std::size_t in_size() const { return in_c * in_h * in_w; }
  std::size_t out_size() const { return out_c * out_h * out_w; }
};

// A row of the C table, and the three arrays it points into.
struct c_row {
  deploy::layer_kind kind;
  std::size_t in_c, in_h, in_w, out_c, out_h, out_w, kernel, kernel_w, stride, pad, pad_w;
  bool relu;
  int weight_bits;
  int codes_in, codes_out;  // what the buffers hold: 0 floats, 1 u8 codes, 2 int16 addends
  bool norm;
  int sum;  // a residual sum formed in the epilogue: with kept u8 codes (1) or int16 addends (2)
  std::size_t bytes, ints, floats;  // offsets
  // The arena's tensors it reads, keeps (a residual block's kept term) and writes; then their offsets.
  std::size_t in, kept, out;
  std::size_t in_at = 0, kept_at = 0, out_at = 0;
  bool elementwise = false;  // output i is a function of input i alone (float ReLU, affine, flatten)
};
// A tensor of the arena: written by row `first`, read last by row `last`;
// `same_as` another it shares its bytes with (its row's input or kept term,
// written over); `at` where the plan puts it.
struct c_tensor {
  std::size_t bytes, element, first, last, same_as, at = 0;
};
inline constexpr std::size_t no_tensor = std::size_t(-1);
// Where a layer's output goes, as codes_for finds it.
struct c_destination {
  int holds = 0;  // 0 floats, 1 codes on grid, 2 addends on grid
  kernels::code_grid grid{};
  std::size_t at = 0;  // the layer that takes them
};
struct c_model {
  std::vector<c_layer> layers;
  std::vector<c_row> rows;
  std::vector<std::uint8_t> bytes;
  std::vector<std::int32_t> ints;
  std::vector<float> floats;
  std::vector<c_tensor> tensors;
  std::size_t current = no_tensor;  // the tensor the next row reads
  std::size_t block_input = no_tensor, kept = no_tensor;  // a residual block's input and its kept term
  std::size_t tensor_bytes = 0, scratch_bytes = 0;  // the arena: the planned tensors, then the scratch
  bool needs_floats = false;  // a float layer: <math.h> and the float paths
  std::size_t exception_count = 0;  // requantization exceptions, for the header's notes

  bool in_block = false;

  // The layers of a sequential, in order.
  template <class Net>
  void add_all(Net& net) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (add(net.template layer<I>()), ...);
    }(std::make_index_sequence<Net::size>{});
  }
  // A residual block: a save marker (its input kept), its body, an add
  // row; with a projection, its shortcut and a swap marker after save. A
  // block whose sum is quantized (quant/quantized_sum.hpp) and whose chains
  // end in integer layers keeps it in integers: codes are kept, the chains
  // hand on their terms as int16 addends, and the body's last layer forms
  // the sum in its epilogue (integer_add marks where); other quantized sums
  // are the float quantized_add row, and the rest a float add.
  template <class L>
    requires requires(L& l) { l.body(); }
  void add(L& block) {
    using I = typename L::input_shape;
    using O = typename L::output_shape;
    if (in_block) throw io::io_error("C header: a residual block inside a residual block cannot be exported");
    const auto marker = [](deploy::layer_kind k, auto in, auto out) {
      using A = decltype(in);
      using B = decltype(out);
      return c_layer{{.kind = k}, A::channels, A::height, A::width, B::channels, B::height, B::width};
    };
    constexpr bool projection = requires { block.shortcut(); };
    std::optional<kernels::code_grid> integer_grid, input;
    if constexpr (L::quantized) {
      input = block.body().template layer<0>().grid();
      bool integer = ends_in_integer_layer(block.body());
      if constexpr (projection)
        integer = integer && ends_in_integer_layer(block.shortcut()) && same_grid(block.shortcut(), *input);
      if (integer) integer_grid = input;
    }
    c_layer save = marker(deploy::layer_kind::save, I{}, I{});
    save.block_grid = integer_grid;
    layers.push_back(save);
    in_block = true;
    if constexpr (projection) {
      add_all(block.shortcut());
      c_layer swap = marker(deploy::layer_kind::swap, O{}, I{});
      swap.block_grid = integer_grid;
      layers.push_back(swap);
    }
    add_all(block.body());
    in_block = false;
    if (integer_grid) {
      c_layer sum = marker(deploy::layer_kind::integer_add, O{}, O{});
      sum.block_grid = integer_grid;
      sum.projection = projection;
      layers.push_back(sum);
    } else if (input) {  // the kept term's grid: the block input's, or the addends' after a projection
      c_layer sum = marker(deploy::layer_kind::quantized_add, O{}, O{});
      const kernels::code_grid g = projection ? addend_grid(*input) : *input;
      sum.row.floats = {{g.step, g.zero, g.max_code}};
      layers.push_back(std::move(sum));
    } else {
      layers.push_back(marker(deploy::layer_kind::add, O{}, O{}));
    }
  }
  template <class Chain>
  static bool ends_in_integer_layer(Chain& chain) {
    using Last = std::remove_cvref_t<decltype(chain.template layer<Chain::size - 1>())>;
    return requires(Last& l) { l.requantizers(kernels::code_grid{}, false); };
  }
  // Whether a shortcut reads the block's input codes on the body's grid.
  template <class Chain>
  static bool same_grid(Chain& chain, const kernels::code_grid& g) {
    if constexpr (requires { chain.template layer<0>().grid(); }) {
      const kernels::code_grid s = chain.template layer<0>().grid();
      return s.step == g.step && s.zero == g.zero && s.max_code == g.max_code;
    } else {
      return false;
    }
  }
  template <class L>
  void add(L& layer) {
    static_assert(deploy::has_table_row<L>,
                  "nibble::c_header: this layer cannot be exported to C (float weights are not supported); see "
                  "deploy/table_row.hpp.");
    using I = typename L::input_shape;
    using O = typename L::output_shape;
    c_layer l{deploy::table_row_of(layer), I::channels, I::height, I::width, O::channels, O::height, O::width};
    if constexpr (requires { layer.requantizers(kernels::code_grid{}, false); }) {
      l.input_grid = layer.grid();
      l.requantizers = [&layer](const kernels::code_grid& g, bool relu) { return layer.requantizers(g, relu); };
      l.zero_point_sums = [&layer] { return layer.zero_point_sums(); };
    }
    if constexpr (requires { layer.code_table(kernels::code_grid{}); })
      l.code_table = [&layer](const kernels::code_grid& g) { return layer.code_table(g); };
    layers.push_back(std::move(l));
  }

  // Where layer i's output goes: codes on the grid of the integer layer
  // that takes it, past ReLUs (when relu_passes), max pools, flattens and
  // the save marker of an integer block; int16 addends on the block's step if
  // it ends a chain of an integer block; else floats. relu_between says
  // whether a ReLU was passed.
  c_destination codes_for(std::size_t i, bool relu_passes, bool& relu_between) const {
    relu_between = false;
    for (std::size_t j = i + 1; j < layers.size(); ++j) {
      const deploy::layer_kind k = layers[j].row.kind;
      if (layers[j].integer()) return {1, *layers[j].input_grid, j};
      const bool integer_block = layers[j].block_grid.has_value();
      if (integer_block && (k == deploy::layer_kind::swap || k == deploy::layer_kind::integer_add))
        return {2, addend_grid(*layers[j].block_grid), j};
      if (k == deploy::layer_kind::relu && relu_passes) {
        relu_between = true;
        continue;
      }
      if (k != deploy::layer_kind::maxpool && k != deploy::layer_kind::flatten &&
          !(integer_block && k == deploy::layer_kind::save))
        break;
    }
    return {};
  }

  // A row reading the current tensor and writing a new one, which becomes current.
  c_row& push(const c_layer& l, deploy::layer_kind kind, int codes_in, int codes_out) {
    const std::size_t in = kind == deploy::layer_kind::image ? no_tensor : current;  // the image: the caller's
    const std::size_t out = tensors.size();
    tensors.push_back({to_8(l.out_size() * element_bytes(codes_out)), element_bytes(codes_out), rows.size(),
                       rows.size(), no_tensor});
    if (in != no_tensor) tensors[in].last = rows.size();
    rows.push_back({kind, l.in_c, l.in_h, l.in_w, l.out_c, l.out_h, l.out_w, l.row.kernel, l.row.kernel_w(),
                    l.row.stride, l.row.pad, l.row.pad_w(), l.row.relu, l.row.weight_bits, codes_in, codes_out, l.row.norm, 0, bytes.size(), ints.size(),
                    floats.size(), in, no_tensor, out});
    current = out;
    return rows.back();
  }
  // The row also reads the block's kept term, element by element where it writes.
  void keep(c_row& r) {
    r.kept = kept;
    tensors[kept].last = rows.size() - 1;
  }
  static std::size_t to_8(std::size_t bytes) { return (bytes + 7) / 8 * 8; }  // arena parts stay 8-byte aligned
  static std::size_t element_bytes(int holds) { return holds == 1 ? 1 : holds == 2 ? 2 : 4; }
  // Requantizers (7 ints each: m; shift; lo | hi << 16; c in two halves;
  // where its exceptions are, from `base`, and how many), then the exceptions.
  void add_requantizers(const std::vector<deploy::requantizer>& qs, std::size_t base) {
    std::size_t exceptions = ints.size() + 7 * qs.size() - base;
    for (const deploy::requantizer& q : qs) {
      const auto c = std::uint64_t(q.offset);
      ints.insert(ints.end(), {q.multiplier, q.shift, std::int32_t(std::uint32_t(q.lo) | std::uint32_t(q.hi) << 16),
                               std::int32_t(std::uint32_t(c & 0xffffffffu)), std::int32_t(q.offset >> 32),
                               std::int32_t(exceptions), std::int32_t(q.exceptions.size())});
      exceptions += 2 * q.exceptions.size();
    }
    for (const deploy::requantizer& q : qs)
      for (const auto& [at, code] : q.exceptions) ints.insert(ints.end(), {at, code});
    for (const deploy::requantizer& q : qs) exception_count += q.exceptions.size();
  }
  void add_floats(const deploy::table_row& r, std::size_t skip = 0) {
    for (std::size_t i = skip; i < r.floats.size(); ++i) floats.insert(floats.end(), r.floats[i].begin(), r.floats[i].end());
  }

  // Weight code i of a row's packed codes.
  static int code_at(const deploy::table_row& r, std::size_t i) {
    const auto b = std::uint8_t(r.codes[r.weight_bits == 4 ? i / 2 : i]);
    if (r.weight_bits == 8) return std::int8_t(b);
    const int v = (b >> (i % 2 * 4)) & 15;
    return v >= 8 ? v - 16 : v;
  }
  // The codes in the order the C runtime reads them (integer layers:
  // filter by filter in (ky, kx, c) order), packed as they were. A
  // depthwise filter reads one channel.
  void add_weights(const c_layer& l, bool channels_last) {
    const std::size_t in = l.row.kind == deploy::layer_kind::depthwise ? 1 : l.in_c;
    const std::size_t taps = std::max<std::size_t>(1, l.row.kernel) * std::max<std::size_t>(1, l.row.kernel_w());
    const std::size_t fan_in = in * taps;
    const std::size_t count = l.out_c * fan_in, first = bytes.size();
    bytes.resize(first + (l.row.weight_bits == 4 ? (count + 1) / 2 : count), 0);
    for (std::size_t o = 0; o < l.out_c; ++o)
      for (std::size_t c = 0; c < in; ++c)
        for (std::size_t t = 0; t < taps; ++t) {
          const int v = code_at(l.row, (o * in + c) * taps + t);
          const std::size_t to = o * fan_in + (channels_last ? t * in + c : c * taps + t);
          if (l.row.weight_bits == 8)
            bytes[first + to] = std::uint8_t(std::int8_t(v));
          else
            bytes[first + to / 2] |= std::uint8_t((v & 15) << (to % 2 * 4));
        }
  }

  // The rows: integer layers with codes in and codes, addends or floats
  // out; a quantize row where floats meet an integer layer; a block's
  // rows with what its buffers hold.
  void plan() {
    int holds = 0;  // what the layer before handed on: 0 floats, 1 codes, 2 addends
    std::vector<bool> skip(layers.size(), false);  // ReLUs folded into a requantization
    // ReLUs between layer i and the one that takes its codes are part of its requantization.
    const auto fold_relus = [&](std::size_t i, const c_destination& next) {
      for (std::size_t j = i + 1; j < next.at; ++j) skip[j] = skip[j] || layers[j].row.kind == deploy::layer_kind::relu;
    };
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const c_layer& l = layers[i];
      const deploy::table_row& r = l.row;
      if (skip[i]) continue;
      bool relu_between = false;
      if (r.kind == deploy::layer_kind::image) {
        const c_destination next = codes_for(i, false, relu_between);
        push(l, r.kind, 0, next.holds);
        if (next.holds == 1) {
          const std::vector<std::uint8_t> table = l.code_table(next.grid);
          bytes.insert(bytes.end(), table.begin(), table.end());
        } else {
          add_floats(r);
          needs_floats = true;
        }
        holds = next.holds;
      } else if (l.integer()) {
        if (holds != 1) {  // floats to codes on this layer's grid
          c_row& q = push({{}, l.in_c, l.in_h, l.in_w, l.in_c, l.in_h, l.in_w}, deploy::layer_kind::quantize, 0, 1);
          q.relu = false;
          floats.insert(floats.end(), {l.input_grid->step, l.input_grid->zero, l.input_grid->max_code});
        }
        const c_destination next = codes_for(i, true, relu_between);
        const std::size_t first = ints.size();
        const std::size_t k = std::max<std::size_t>(1, r.kernel), fan_in = l.in_c * k * std::max<std::size_t>(1, r.kernel_w());
        // c_runtime.c's integer_conv: the padded rows, two filters' weights and one's; integer_depthwise: the
        // rows and every filter's weights.
        const std::size_t rows = r.pad > 0 || r.pad_w() > 0 ? k * (l.in_w + 2 * r.pad_w()) * l.in_c : 0;
        const bool depthwise = r.kind == deploy::layer_kind::depthwise;
        scratch_bytes = std::max(scratch_bytes, rows + (depthwise ? fan_in : 3 * fan_in));
        // Its row, its weights and its input's zero point; then what makes its outputs.
        const auto begin_row = [&](int codes_out) -> c_row& {
          c_row& row = push(l, r.kind, 1, codes_out);
          add_weights(l, true);
          ints.push_back(std::int32_t(l.input_grid->zero));
          return row;
        };
        if (next.holds == 2 && layers[next.at].row.kind == deploy::layer_kind::integer_add) {
          // The last layer of an integer block's body: the block's sum in its epilogue.
          const c_layer& sum = layers[next.at];
          bool relu_after = false;
          const c_destination after = codes_for(next.at, true, relu_after);
          if (after.holds == 2) throw std::logic_error("nibble::c_header: a residual sum feeds another directly");
          c_row& row = begin_row(after.holds);
          row.sum = sum.projection ? 2 : 1;
          keep(row);
          skip[next.at] = true;
          if (after.holds) fold_relus(next.at, after);
          std::vector<deploy::requantizer> qs = l.requantizers(next.grid, false);
          // The filters' codes are 0 ... 2·limit (c_f + limit); the kept term is a code c_x (identity, less z)
          // or an addend c_s: the C adds them as they are, and these offsets make n.
          const std::int32_t offset = addend_limit + (sum.projection ? 0 : std::int32_t(sum.block_grid->zero));
          if (after.holds)
            qs.push_back(sum_requantizer(sum, after.grid, relu_after).shifted_by(-offset));
          else
            floats.insert(floats.end(), {sum.block_grid->step, float(offset)});
          add_requantizers(qs, first);
          holds = after.holds;
          continue;
        }
        begin_row(next.holds);
        if (next.holds) {  // per filter, onto u8 codes or int16 addends
          fold_relus(i, next);
          add_requantizers(l.requantizers(next.grid, relu_between), first);
        } else {
          const std::vector<std::int32_t> zs = l.zero_point_sums();
          ints.insert(ints.end(), zs.begin(), zs.end());
          add_floats(r, 1);  // the epilogue and the batch norm, not the input grid
          needs_floats = needs_floats || r.norm;
        }
        holds = next.holds;
      } else if (r.kind == deploy::layer_kind::save || r.kind == deploy::layer_kind::swap) {
        plan_marker(l, holds);
      } else if (l.block_grid) {
        throw std::logic_error("nibble::c_header: a residual block's body does not end in an integer layer");
      } else if (r.kind == deploy::layer_kind::maxpool || r.kind == deploy::layer_kind::flatten) {
        push(l, r.kind, holds, holds).elementwise = r.kind == deploy::layer_kind::flatten && holds == 0;
      } else {
        if (holds) throw std::logic_error("nibble::c_header: codes reached a float layer");
        c_row& row = push(l, r.kind, 0, 0);
        if (r.kind == deploy::layer_kind::add || r.kind == deploy::layer_kind::quantized_add) keep(row);
        row.elementwise = r.kind == deploy::layer_kind::relu || r.kind == deploy::layer_kind::affine;
        if (!r.codes.empty()) add_weights(l, false);
        add_floats(r);
        needs_floats = needs_floats || r.kind == deploy::layer_kind::affine || !r.codes.empty() ||
                       r.kind == deploy::layer_kind::add || r.kind == deploy::layer_kind::quantized_add;
      }
    }
    scratch_bytes = to_8(scratch_bytes);
    place();
  }

  // A block's markers make no rows. Save keeps the current tensor, the
  // block's input (quantized to the block's grid first when its sum stays
  // in integers and floats reach it); swap keeps the shortcut's output and
  // hands the body the block's input. The sum (n = (c_x − z or c_s) + c_f
  // in integers, formed by the body's last layer; else an add row) reads
  // the kept term.
  void plan_marker(const c_layer& l, int& holds) {
    if (l.row.kind == deploy::layer_kind::save) {
      if (l.block_grid && holds != 1) {
        const kernels::code_grid g = *l.block_grid;
        push(l, deploy::layer_kind::quantize, 0, 1);
        floats.insert(floats.end(), {g.step, g.zero, g.max_code});
        holds = 1;
      }
      block_input = kept = current;
    } else {
      kept = current;
      current = block_input;
      holds = l.block_grid ? 1 : 0;
    }
  }

  // Where each tensor lives in the arena: the largest first, each at the
  // lowest offset clear of every placed tensor whose life overlaps its own
  // (TensorFlow Lite Micro's greedy planner). A row whose output element i
  // needs only element i of a term read last by it writes over that term
  // (a residual sum over its kept term of the same element size, a float
  // ReLU over its input): the two are one tensor, from the first's writing
  // to the last's reading.
  void place() {
    if (rows.empty()) return;
    tensors[rows.back().out].last = rows.size();  // the outputs, read by the caller
    const auto root = [&](std::size_t t) {
      while (tensors[t].same_as != no_tensor) t = tensors[t].same_as;
      return t;
    };
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const c_row& r = rows[i];
      const auto over = [&](std::size_t t) {
        return t != no_tensor && tensors[t].last == i && tensors[t].element == tensors[r.out].element;
      };
      if (r.kept != no_tensor) {
        if (over(r.kept) && root(r.in) != root(r.kept)) tensors[r.out].same_as = r.kept;
      } else if (r.elementwise && over(r.in)) {
        tensors[r.out].same_as = r.in;
      }
    }
    std::vector<std::size_t> order;
    for (std::size_t t = 0; t < tensors.size(); ++t) {
      c_tensor& r = tensors[root(t)];
      if (&r == &tensors[t]) {
        order.push_back(t);
        continue;
      }
      r.bytes = std::max(r.bytes, tensors[t].bytes);
      r.first = std::min(r.first, tensors[t].first);
      r.last = std::max(r.last, tensors[t].last);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return tensors[a].bytes > tensors[b].bytes; });
    std::vector<std::pair<std::size_t, std::size_t>> taken;  // [at, end) of the placed tensors alive with it
    for (std::size_t i = 0; i < order.size(); ++i) {
      c_tensor& t = tensors[order[i]];
      taken.clear();
      for (std::size_t j = 0; j < i; ++j) {
        const c_tensor& u = tensors[order[j]];
        if (u.first <= t.last && t.first <= u.last) taken.emplace_back(u.at, u.at + u.bytes);
      }
      std::sort(taken.begin(), taken.end());
      for (const auto& [at, end] : taken) {
        if (t.at + t.bytes <= at) break;
        t.at = std::max(t.at, end);
      }
      tensor_bytes = std::max(tensor_bytes, t.at + t.bytes);
    }
    for (std::size_t t = 0; t < tensors.size(); ++t) tensors[t].at = tensors[root(t)].at;
    for (c_row& r : rows) {
      r.in_at = r.in == no_tensor ? 0 : tensors[r.in].at;
      r.kept_at = r.kept == no_tensor ? 0 : tensors[r.kept].at;
      r.out_at = tensors[r.out].at;
    }
  }
  // The requantizer of an integer block's sum n = (c_x − z or c_s) + c_f:
  // the library's step · n, through a ReLU if one follows, onto grid `to`.
  static deploy::requantizer sum_requantizer(const c_layer& sum, const kernels::code_grid& to, bool relu) {
    const kernels::code_grid g = *sum.block_grid;
    const std::int32_t kept_lo = sum.projection ? -addend_limit : -std::int32_t(g.zero),
                       kept_hi = sum.projection ? addend_limit : std::int32_t(g.max_code - g.zero);
    const deploy::code_function codes = [&](const std::int32_t* n, std::int32_t* out, std::size_t count) {
      for (std::size_t k = 0; k < count; ++k) {
        float v = g.step * float(n[k]);  // as quantized_sum adds: the step times the integer sum
        if (relu) v = v > 0.0f ? v : 0.0f;
        out[k] = std::int32_t(kernels::code_of(v, to));
      }
    };
    return deploy::fit_requantizer(codes, kept_lo - addend_limit, kept_hi + addend_limit, 0, int(to.max_code),
                                   "a residual sum");
  }
};

// The reference forward pass: io/c_runtime.c, a C99 file of its own,
// embedded as text between its two NIBBLE_EMBED_C_RUNTIME guards.
inline std::string_view c_runtime() {
  static constexpr std::string_view file =
#define NIBBLE_EMBED_C_RUNTIME
#include "nibble/io/c_runtime.c"
#undef NIBBLE_EMBED_C_RUNTIME
      ;
  // The raw string holds the guards' lines too: keep what lies between them.
  constexpr std::string_view open = "#endif\n", close = "#ifdef NIBBLE_EMBED_C_RUNTIME";
  const std::size_t from = file.find(open) + open.size();
  return file.substr(from, file.rfind(close) - from);
}

inline bool is_c_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

// A float as a C literal that reads back as the same float: the shortest
// decimal that does, with a decimal point or exponent and the f suffix
// (C89 and C++ before 17 have no hex float literals).
inline std::string c_float(float v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s + "f";
}

template <class T, class Format>
void c_array(std::string& h, const std::string& type, const std::string& name, const std::string& weights,
             const std::vector<T>& values, std::size_t per_line, Format&& format) {
  h += fmt::format("static const {} {}[{}] {} = {{", type, name, std::max<std::size_t>(1, values.size()), weights);
  for (std::size_t i = 0; i < values.size(); ++i) h += (i % per_line == 0 ? "\n  " : " ") + format(values[i]) + ",";
  if (values.empty()) h += "0";
  h += "\n};\n";
}

}  // namespace detail

// The header's text. `prefix` names everything in it (a C identifier, e.g.
// "vgg4bit": vgg4bit_forward, VGG4BIT_ARENA_BYTES); `info` adds the model's
// label and provenance as comments.
template <class Net>
std::string c_header(Net& deployed, const std::string& prefix, const model_info& info = {}) {
  if (!detail::is_c_identifier(prefix))
    throw io::io_error("C header: the prefix '" + prefix +
                       "' is not a C identifier (letters, digits and _, not starting with a digit)");
  detail::c_model m;
  m.add_all(deployed);
  m.plan();
  const std::size_t arena = m.tensor_bytes + m.scratch_bytes;
  std::string upper = prefix;
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));

  std::string h;
  h += fmt::format("/* {}.h: a neural network exported by nibble {}.{}.{}. Generated; do not edit.\n *\n", prefix,
                   version_major, version_minor, version_patch);
  for (const auto& line : describe_network<Net>().layers) h += " *   " + line + "\n";
  if (!info.model.empty()) h += " *\n * Model: " + info.model + "\n";
  const auto& input = deployed.template layer<0>();
  h += " * Input: C x H x W bytes; each channel is normalised inside as (pixel / 255 - mean) / std with mean";
  for (float v : input.mean) h += fmt::format(" {}", v);
  h += ", std";
  for (float v : input.std) h += fmt::format(" {}", v);
  h += "\n";
  for (const auto& [key, value] : info.notes) h += " * " + key + ": " + value + "\n";
  h += fmt::format(
      " *\n * Use: in one C file, #define {0}_IMPLEMENTATION before including this header; then\n"
      " *      static float arena[{0}_ARENA_FLOATS];\n"
      " *      const float* out = {1}_forward(image, arena);\n"
      " * RAM: {0}_ARENA_BYTES bytes of arena, nothing else. Weights and tables are const, placed by {0}_WEIGHTS.\n"
      " * C99 or C++; {2}.\n"
      " * Requantization exceptions: {3} (sums whose code no line gives, deploy/requantization.hpp).\n */\n",
      upper, prefix,
      m.needs_floats ? "it has float layers, which need <math.h> (link with -lm)" : "integers only, no <math.h>",
      m.exception_count);
  h += fmt::format("#ifndef {0}_H\n#define {0}_H\n\n#include <stdint.h>\n\n", upper);
  // The constant data: the three arrays and the layer table (24 ints and longs a row, at most 8 bytes each).
  const std::size_t constant = m.bytes.size() + 4 * m.ints.size() + 4 * m.floats.size() + 24 * 8 * m.rows.size();
  h += fmt::format("#define {}_INPUT_BYTES {}\n#define {}_OUTPUTS {}\n#define {}_ARENA_BYTES {}\n"
                   "#define {}_ARENA_FLOATS {}\n#define {}_CONSTANT_BYTES {} /* at most */\n\n",
                   upper, Net::input_shape::size, upper, Net::output_shape::size, upper, arena, upper, arena / 4,
                   upper, constant);
  h += fmt::format(
      "#ifdef __cplusplus\nextern \"C\" {{\n#endif\n"
      "/* Runs the network on one image ({0}_INPUT_BYTES bytes, C x H x W, the pixel values as they are); arena\n"
      "   holds {0}_ARENA_FLOATS floats. Returns the {0}_OUTPUTS outputs, inside the arena. */\n"
      "const float* {1}_forward(const uint8_t* image, float* arena);\n"
      "#ifdef __cplusplus\n}}\n#endif\n#endif /* {0}_H */\n\n",
      upper, prefix);

  h += fmt::format("#if defined({0}_IMPLEMENTATION) && !defined({0}_IMPLEMENTED)\n#define {0}_IMPLEMENTED\n"
                   "#include <string.h>\n#ifndef {0}_WEIGHTS\n#define {0}_WEIGHTS\n#endif\n",
                   upper);
  // The runtime first (it defines the layer type), named with the prefix.
  const bool integer_sums =
      std::any_of(m.rows.begin(), m.rows.end(), [](const detail::c_row& r) { return r.sum != 0; });
  const bool blocks = std::any_of(m.rows.begin(), m.rows.end(), [](const detail::c_row& r) {
    return r.kind == deploy::layer_kind::add || r.kind == deploy::layer_kind::quantized_add;
  });
  const bool depthwise = std::any_of(m.rows.begin(), m.rows.end(), [](const detail::c_row& r) {
    return r.kind == deploy::layer_kind::depthwise && r.codes_in == 1;
  });
  h += fmt::format("#define NIBBLE_C(name) {}_##name\n#define NIBBLE_C_API static\n#define NIBBLE_C_FLOATS {}\n"
                   "#define NIBBLE_C_BLOCKS {}\n#define NIBBLE_C_INTEGER_SUMS {}\n#define NIBBLE_C_DEPTHWISE_CONV {}\n",
                   prefix, m.needs_floats ? 1 : 0, blocks ? 1 : 0, integer_sums ? 1 : 0, depthwise ? 1 : 0);
  h += detail::c_runtime();
  h += "\n";
  const std::string weights = upper + "_WEIGHTS";
  detail::c_array(h, "uint8_t", prefix + "_bytes", weights, m.bytes, 24, [](std::uint8_t v) { return std::to_string(v); });
  detail::c_array(h, "int32_t", prefix + "_ints", weights, m.ints, 8, [](std::int32_t v) {
    // INT32_MIN is no literal of its own in C
    return v == INT32_MIN ? std::string("(-2147483647 - 1)") : std::to_string(v);
  });
  detail::c_array(h, "float", prefix + "_floats", weights, m.floats, 6, [](float v) { return detail::c_float(v); });
  h += fmt::format("static const {}_layer {}_layers[{}] = {{\n", prefix, prefix, m.rows.size());
  for (const auto& r : m.rows)
    h += fmt::format("  {{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}L, {}L, {}L, {}L, {}L, {}L}},\n",
                     int(r.kind), r.in_c, r.in_h, r.in_w, r.out_c, r.out_h, r.out_w, r.kernel, r.kernel_w, r.stride,
                     r.pad, r.pad_w,
                     int(r.relu), r.weight_bits, r.codes_in, r.codes_out, int(r.norm), r.sum, r.bytes, r.ints,
                     r.floats, r.in_at, r.kept_at, r.out_at);
  h += "};\n\n";
  h += fmt::format(
      "const float* {1}_forward(const uint8_t* image, float* arena) {{\n"
      "  return {1}_run({1}_layers, {2}, {1}_bytes, {1}_ints, {1}_floats, image, arena, {3}L);\n}}\n"
      "#undef NIBBLE_C\n#undef NIBBLE_C_API\n#undef NIBBLE_C_FLOATS\n#undef NIBBLE_C_BLOCKS\n"
      "#undef NIBBLE_C_INTEGER_SUMS\n#undef NIBBLE_C_DEPTHWISE_CONV\n"
      "#endif /* {0}_IMPLEMENTATION */\n",
      upper, prefix, m.rows.size(), m.tensor_bytes);
  return h;
}

// Writes the header atomically.
template <class Net>
void save_c_header(const std::filesystem::path& file, Net& deployed, const std::string& prefix,
                   const model_info& info = {}) {
  const std::string text = c_header(deployed, prefix, info);
  io::write_file_atomically(file, std::as_bytes(std::span(text.data(), text.size())), "C header");
}

}  // namespace nibble
