#pragma once
// A deployed network as one C99 header for microcontrollers: its packed
// weight codes, the floats of its epilogues and input grids, a table of its
// layers, and a plain reference forward pass for one image that needs only
// <stdint.h> and <math.h> (io/c_runtime.c, embedded):
//
//   #include "vgg4bit.h"
//   static float work[VGG4BIT_WORK_FLOATS];
//   const float* logits = vgg4bit_forward(image, work);   /* image: C×H×W bytes */
//
// Every name in the header starts with the prefix the caller chooses, so
// several models can live in one program. Integer layers compute their sums
// in int32 exactly as the library does (so their codes agree); the float
// steps are the same formulas, though a C compiler may order or fuse them
// differently, so outputs agree to float rounding and top-1 answers agree.
//
// The image's bytes are normalised as the library's image_input does: one
// fmaf per byte with the library's own scale and bias, so the first
// layer's codes are the library's too.
//
// Exportable layers: those with a layer-table row (deploy/table_row.hpp):
// the image input, deployed conv2d and linear (weight-only or integer),
// channel_affine, relu, max_pool2d, flatten and global_avg_pool. Residual
// blocks and float weights are refused when the header is built (a compile
// error says so).
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "nibble/config.hpp"
#include "nibble/deploy/convert.hpp"
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

// The rows of the layer table and the two arrays, as they are built from
// each layer's own row (deploy/table_row.hpp).
struct c_model {
  struct row {
    deploy::table_row layer;
    std::size_t in_c, in_h, in_w, out_c, out_h, out_w;
    std::size_t codes = 0, floats = 0;  // offsets into the arrays
  };
  std::vector<row> rows;
  std::vector<std::uint8_t> codes;
  std::vector<float> floats;

  template <class L>
  void add(const L& layer) {
    static_assert(deploy::has_table_row<L>,
                  "nibble::c_header: this layer cannot be exported to C (residual blocks and float weights are not "
                  "supported); see deploy/table_row.hpp.");
    using I = typename L::input_shape;
    using O = typename L::output_shape;
    row r{deploy::table_row_of(layer), I::channels, I::height, I::width, O::channels, O::height, O::width,
          codes.size(), floats.size()};
    for (std::byte b : r.layer.codes) codes.push_back(std::uint8_t(b));
    for (const auto& f : r.layer.floats) floats.insert(floats.end(), f.begin(), f.end());
    rows.push_back(std::move(r));
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

}  // namespace detail

// The header's text. `prefix` names everything in it (a C identifier, e.g.
// "vgg4bit": vgg4bit_forward, VGG4BIT_WORK_FLOATS); `info` adds the model's
// label and provenance as comments.
template <class Net>
std::string c_header(Net& deployed, const std::string& prefix, const model_info& info = {}) {
  if (!detail::is_c_identifier(prefix))
    throw io::io_error("C header: the prefix '" + prefix +
                       "' is not a C identifier (letters, digits and _, not starting with a digit)");
  detail::c_model m;
  deployed.visit_layers([&](const auto& layer) { m.add(layer); });

  std::size_t largest = Net::input_shape::size;
  for (const auto& r : m.rows) largest = std::max({largest, r.in_c * r.in_h * r.in_w, r.out_c * r.out_h * r.out_w});
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
      " *\n * Use: static float work[{0}_WORK_FLOATS];\n *      const float* out = {1}_forward(image, work);\n"
      " * Needs <stdint.h> and <math.h> (link with -lm). C99.\n */\n",
      upper, prefix);
  h += fmt::format("#ifndef {0}_H\n#define {0}_H\n\n#include <math.h>\n#include <stdint.h>\n\n", upper);
  h += fmt::format("#define {}_INPUT_BYTES {}\n#define {}_OUTPUTS {}\n#define {}_WORK_FLOATS {}\n#define {}_LAYER_COUNT {}\n\n",
                   upper, Net::input_shape::size, upper, Net::output_shape::size, upper, 2 * largest, upper,
                   m.rows.size());
  // The runtime first (it defines the layer type), named with the prefix.
  h += fmt::format("#define NIBBLE_C(name) {}_##name\n#define NIBBLE_C_API static\n", prefix);
  h += detail::c_runtime();
  h += "\n";
  h += fmt::format("static const uint8_t {}_codes[{}] = {{", prefix, std::max<std::size_t>(1, m.codes.size()));
  for (std::size_t i = 0; i < m.codes.size(); ++i) h += fmt::format("{}{}", i % 24 == 0 ? "\n  " : "", m.codes[i]) + ",";
  if (m.codes.empty()) h += "0";
  h += "\n};\n\n";
  h += fmt::format("static const float {}_floats[{}] = {{", prefix, std::max<std::size_t>(1, m.floats.size()));
  for (std::size_t i = 0; i < m.floats.size(); ++i) h += fmt::format("{}{:a}f,", i % 6 == 0 ? "\n  " : " ", m.floats[i]);
  if (m.floats.empty()) h += "0";
  h += "\n};\n\n";
  h += fmt::format("static const {}_layer {}_layers[{}] = {{\n", prefix, prefix, m.rows.size());
  for (const auto& r : m.rows) {
    const deploy::table_row& l = r.layer;
    h += fmt::format("  {{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}L, {}L}},\n", int(l.kind), r.in_c,
                     r.in_h, r.in_w, r.out_c, r.out_h, r.out_w, l.kernel, l.stride, l.pad, int(l.relu), l.weight_bits,
                     l.activation_bits, int(l.norm), r.codes, r.floats);
  }
  h += "};\n\n";
  h += fmt::format(
      "/* Runs the network on one image ({0}_INPUT_BYTES bytes, C x H x W, the pixel values as they are); work holds\n"
      "   {0}_WORK_FLOATS floats. Returns the {0}_OUTPUTS outputs, inside work. */\n"
      "static const float* {1}_forward(const uint8_t* image, float* work) {{\n"
      "  return {1}_run({1}_layers, {0}_LAYER_COUNT, {1}_codes, {1}_floats, image, work, {0}_WORK_FLOATS);\n}}\n"
      "#undef NIBBLE_C\n#undef NIBBLE_C_API\n",
      upper, prefix);
  h += fmt::format("\n#endif /* {}_H */\n", upper);
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
