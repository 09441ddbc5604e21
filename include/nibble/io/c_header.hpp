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
// Exportable layers: the image input, deployed conv2d and linear
// (weight-only or integer), channel_affine, relu, max_pool2d, flatten and
// global_avg_pool. Residual
// blocks and float weights are refused when the header is built (a compile
// error names the layer).
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

enum class c_kind { conv = 1, linear, relu, maxpool, flatten, avgpool, affine, image };

// The rows of the layer table and the two arrays, as they are built.
struct c_model {
  struct row {
    c_kind kind;
    std::size_t in_c, in_h, in_w, out_c, out_h, out_w;
    std::size_t kernel = 0, stride = 0, pad = 0;
    bool relu = false;
    int weight_bits = 0, activation_bits = 0;
    bool norm = false;
    std::size_t codes = 0, floats = 0;
  };
  std::vector<row> rows;
  std::vector<std::uint8_t> codes;
  std::vector<float> floats;

  template <class L>
  row& add(c_kind kind) {
    using I = typename L::input_shape;
    using O = typename L::output_shape;
    rows.push_back(row{kind, I::channels, I::height, I::width, O::channels, O::height, O::width});
    rows.back().codes = codes.size();
    rows.back().floats = floats.size();
    return rows.back();
  }
  void add_codes(std::span<const std::byte> bytes) {
    for (std::byte b : bytes) codes.push_back(std::uint8_t(b));
  }
  void add_floats(std::span<const float> v) { floats.insert(floats.end(), v.begin(), v.end()); }
};

template <class L>
inline constexpr bool always_false = false;

// An integer layer's codes and floats: input grid, epilogue, batch norm.
template <class Layer>
void add_integer_tensors(c_model& m, c_model::row& r, const Layer& l) {
  r.weight_bits = Layer::weight_bits::width <= 4 ? 4 : 8;
  r.activation_bits = Layer::input_activations::width;
  m.add_codes(l.codes.storage());
  m.add_floats(l.input_grid);
  m.add_floats(l.scale.multiplier);
  m.add_floats(l.scale.offset);
  if (r.norm) {
    m.add_floats(l.norm.multiplier);
    m.add_floats(l.norm.offset);
  }
}

template <class L>
void add_c_layer(c_model&, const L&) {
  static_assert(always_false<L>,
                "nibble::c_header: this layer cannot be exported to C (residual blocks and float weights are not "
                "supported); see the list in io/c_header.hpp.");
}

// (The C forward hands floats from layer to layer; codes the library's
// layers hand each other are the codes the next C layer makes of them.)
template <class In, std::size_t Out, std::size_t K, class B, class A, std::size_t S, std::size_t P, bool N, bool R,
          bool CI, bool CO>
void add_c_layer(c_model& m, const deploy::integer_conv2d_layer<In, Out, K, B, A, S, P, N, R, CI, CO>& l) {
  auto& r = m.add<std::remove_cvref_t<decltype(l)>>(c_kind::conv);
  r.kernel = K, r.stride = S, r.pad = P, r.relu = R, r.norm = N;
  add_integer_tensors(m, r, l);
}

template <class In, std::size_t Out, class B, class A, bool N, bool R>
void add_c_layer(c_model& m, const deploy::integer_linear_layer<In, Out, B, A, N, R>& l) {
  auto& r = m.add<std::remove_cvref_t<decltype(l)>>(c_kind::linear);
  r.relu = R, r.norm = N;
  add_integer_tensors(m, r, l);
}

template <class In, std::size_t Out, std::size_t K, class B, class A, std::size_t S, std::size_t P, bool R>
  requires B::quantized
void add_c_layer(c_model& m, const deploy::conv2d_layer<In, Out, K, B, A, S, P, R>& l) {
  auto& r = m.add<std::remove_cvref_t<decltype(l)>>(c_kind::conv);
  r.kernel = K, r.stride = S, r.pad = P, r.relu = R;
  r.weight_bits = B::width <= 4 ? 4 : 8;
  m.add_codes(l.codes.storage());
  m.add_floats(l.epilogue.multiplier);
  m.add_floats(l.epilogue.offset);
}

template <class In, std::size_t Out, class B, class A, bool R>
  requires B::quantized
void add_c_layer(c_model& m, const deploy::linear_layer<In, Out, B, A, R>& l) {
  auto& r = m.add<std::remove_cvref_t<decltype(l)>>(c_kind::linear);
  r.relu = R;
  r.weight_bits = B::width <= 4 ? 4 : 8;
  m.add_codes(l.codes.storage());
  m.add_floats(l.epilogue.multiplier);
  m.add_floats(l.epilogue.offset);
}

// The normalisation as the library computes it: scale and bias per channel.
template <class In, bool CO>
void add_c_layer(c_model& m, const deploy::image_input_layer<In, CO>& l) {
  m.add<deploy::image_input_layer<In, CO>>(c_kind::image);
  for (std::size_t c = 0; c < In::channels; ++c) m.floats.push_back(l.normaliser(c).scale);
  for (std::size_t c = 0; c < In::channels; ++c) m.floats.push_back(l.normaliser(c).bias);
}

template <class In, bool R>
void add_c_layer(c_model& m, const deploy::channel_affine_layer<In, R>& l) {
  auto& r = m.add<std::remove_cvref_t<decltype(l)>>(c_kind::affine);
  r.relu = R;
  m.add_floats(l.epilogue.multiplier);
  m.add_floats(l.epilogue.offset);
}
template <class In>
void add_c_layer(c_model& m, const relu_layer<In>&) {
  m.add<relu_layer<In>>(c_kind::relu);
}
template <class In, std::size_t K>
void add_c_layer(c_model& m, const max_pool2d_layer<In, K>&) {
  m.add<max_pool2d_layer<In, K>>(c_kind::maxpool).kernel = K;
}
template <class In, std::size_t K>
void add_c_layer(c_model& m, const deploy::code_max_pool2d_layer<In, K>&) {
  m.add<deploy::code_max_pool2d_layer<In, K>>(c_kind::maxpool).kernel = K;
}
template <class In>
void add_c_layer(c_model& m, const flatten_layer<In>&) {
  m.add<flatten_layer<In>>(c_kind::flatten);
}
template <class In>
void add_c_layer(c_model& m, const global_avg_pool_layer<In>&) {
  m.add<global_avg_pool_layer<In>>(c_kind::avgpool);
}

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
  deployed.visit_layers([&](const auto& layer) { detail::add_c_layer(m, layer); });

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
  for (const auto& r : m.rows)
    h += fmt::format("  {{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}L, {}L}},\n", int(r.kind), r.in_c,
                     r.in_h, r.in_w, r.out_c, r.out_h, r.out_w, r.kernel, r.stride, r.pad, int(r.relu), r.weight_bits,
                     r.activation_bits, int(r.norm), r.codes, r.floats);
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
