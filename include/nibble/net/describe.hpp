#pragma once
// A network described in words, from its type alone: the layers with their
// sizes, schemes and output shapes, and a one-line summary a user reads
// ("10 classes, 4-bit weights, float activations, fp32 arithmetic, 3,251,018
// parameters"). Checkpoints record it to recognise the network they belong
// to — the same on every compiler, unlike a C++ type name — and show it when
// a file does not fit.
#include <cstddef>
#include <string>
#include <vector>


namespace nibble {

struct network_description {
  std::string summary;
  std::vector<std::string> layers;  // "input 3x32x32", then "<position> <layer> -> <output shape>"
  std::vector<std::string> schemes;  // each distinct scheme of the weighted layers, in order; not in text()

  // The summary line, then one line per layer.
  std::string text() const {
    std::string t = summary + '\n';
    for (const auto& l : layers) t += l + '\n';
    return t;
  }
};

namespace detail {
template <class Shape>
std::string shape_text() {
  return std::to_string(Shape::channels) + "x" + std::to_string(Shape::height) + "x" + std::to_string(Shape::width);
}

// 3251018 -> "3,251,018".
inline std::string grouped(std::size_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// "4-bit", "mixed 8-bit/4-bit", in order of first appearance.
inline std::string joined_kinds(const std::vector<std::string>& kinds) {
  if (kinds.empty()) return "float";
  std::string s = kinds.size() > 1 ? "mixed " : "";
  for (std::size_t i = 0; i < kinds.size(); ++i) s += (i ? "/" : "") + kinds[i];
  return s;
}
inline void add_once(std::vector<std::string>& kinds, const std::string& k) {
  for (const auto& have : kinds)
    if (have == k) return;
  kinds.push_back(k);
}
}  // namespace detail

template <class Net>
network_description describe_network() {
  network_description d;
  d.layers.push_back("input " + detail::shape_text<typename Net::input_shape>());
  std::vector<std::string> weights, arithmetic, activations;
  Net::for_each_layer_type([&]<class L>(const std::string& position) {
    d.layers.push_back(position + " " + L::describe() + " -> " + detail::shape_text<typename L::output_shape>());
    if constexpr (requires { typename L::weight_bits; typename L::arithmetic; }) {  // trained or deployed
      detail::add_once(weights, L::weight_bits::describe());
      detail::add_once(arithmetic, L::arithmetic::describe());
    }
    if constexpr (requires { typename L::scheme_type; }) detail::add_once(d.schemes, L::scheme_type::describe());
    if constexpr (requires { typename L::input_activations; }) {
      using A = typename L::input_activations;
      if constexpr (A::quantized) detail::add_once(activations, std::to_string(A::width) + "-bit");
    }
  });
  using Out = typename Net::output_shape;
  const std::string outputs = Out::is_flat ? std::to_string(Out::channels) + " classes"
                                           : "output " + detail::shape_text<Out>();
  d.summary = outputs + ", " + detail::joined_kinds(weights) + " weights, " + detail::joined_kinds(activations) +
              " activations, " +
              detail::joined_kinds(arithmetic.empty() ? std::vector<std::string>{"fp32"} : arithmetic) +
              " arithmetic, " + detail::grouped(Net::parameter_count) + " parameters";
  return d;
}

}  // namespace nibble
