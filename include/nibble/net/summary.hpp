#pragma once
// summary(net): a table a user reads, one row per layer with its position,
// what it is (sizes and scheme), its output shape and its parameters, then
// the totals. Built from the type alone, like describe_network. Schemes,
// which are long, are named once below the table and by a letter in it, so
// that a row fits a terminal:
//
//   10 classes, 4-bit weights, float activations, fp32 arithmetic, 3,251,018 parameters
//   #   layer                          output      parameters
//   -   input                          3x32x32              -
//   0   conv2d 64 3x3 pad 1, scheme A  64x32x32         1,792
//   ...
//   scheme A: 4-bit weights (15 levels), per-tensor abs-max scale, tanh clip 3, ...
//   kernels on this machine:
//     0: forward direct, input gradient im2col + GEMM, weight gradient im2col + GEMM
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "nibble/net/describe.hpp"

namespace nibble {

namespace detail {
// head, then the words of text, in lines of at most 100 columns (longer
// words stand alone), the lines after the first indented under the text.
inline std::string wrapped(const std::string& head, const std::string& text) {
  std::string out, line = head;
  const std::string indent(head.size(), ' ');
  std::size_t from = 0;
  while (from < text.size()) {
    std::size_t to = text.find(' ', from);
    if (to == std::string::npos) to = text.size();
    const std::string word = text.substr(from, to - from);
    if (line.size() + 1 + word.size() > 100 && line.size() > indent.size()) {
      out += line + "\n";
      line = indent;
    }
    line += " " + word;
    from = to + 1;
  }
  return out + line + "\n";
}
}  // namespace detail

// The kernels each layer that has a choice runs on this machine
// (kernels/plan.hpp), a line each under a heading; "" if none has one.
template <class Net>
std::string kernels_used() {
  std::string kernels;
  Net::for_each_layer_type([&]<class L>(const std::string& position) {
    if constexpr (requires { L::kernels_used(); }) kernels += detail::wrapped("  " + position + ":", L::kernels_used());
  });
  return kernels.empty() ? kernels : "kernels on this machine:\n" + kernels;
}

// A residual block's row counts the parameters of the layers inside it,
// which follow as rows of their own ("2.0", "2.1", ...).
template <class Net>
std::string summary() {
  struct row {
    std::string position, layer, output, parameters;
  };
  std::vector<row> rows{{"#", "layer", "output", "parameters"},
                        {"-", "input", detail::shape_text<typename Net::input_shape>(), "-"}};
  const network_description d = describe_network<Net>();
  auto scheme_key = [&](std::size_t i) { return "scheme " + std::string(1, char('A' + i % 26)); };
  Net::for_each_layer_type([&]<class L>(const std::string& position) {
    std::string layer = L::describe();
    // The longest scheme first: one may begin with another's words.
    std::vector<std::size_t> order(d.schemes.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return d.schemes[a].size() > d.schemes[b].size(); });
    for (const std::size_t i : order)
      if (const auto at = layer.find(d.schemes[i]); at != std::string::npos) {
        layer.replace(at, d.schemes[i].size(), scheme_key(i));
        break;
      }
    rows.push_back({position, layer, detail::shape_text<typename L::output_shape>(),
                    detail::grouped(L::parameter_count)});
  });
  std::size_t widths[3] = {0, 0, 0};
  for (const row& r : rows) {
    widths[0] = std::max(widths[0], r.position.size());
    widths[1] = std::max(widths[1], r.layer.size());
    widths[2] = std::max(widths[2], r.output.size());
  }
  std::string text = d.summary + "\n";
  for (const row& r : rows)
    text += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>10}\n", r.position, widths[0], r.layer, widths[1], r.output,
                        widths[2], r.parameters);
  // Each scheme, then the kernels each layer runs on this machine
  // (kernels/plan.hpp), their words wrapped at 100 columns.
  for (std::size_t i = 0; i < d.schemes.size(); ++i) text += detail::wrapped(scheme_key(i) + ":", d.schemes[i]);
  return text + kernels_used<Net>();
}

template <class Net>
std::string summary(const Net&) {
  return summary<Net>();
}

}  // namespace nibble
