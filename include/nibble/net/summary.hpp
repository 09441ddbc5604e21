#pragma once
// summary(net): a table a user reads, one row per layer with its position,
// what it is (sizes and scheme), its output shape and its parameters, then
// the totals. Built from the type alone, like describe_network.
//
//   VGG4bit-like: 10 classes, 4-bit weights, float activations, fp32 arithmetic, 3,251,018 parameters
//   #    layer                                      output       parameters
//   -    input                                      3x32x32               -
//   0    conv2d 3->128 3x3 pad 1, 4-bit weights ... 128x32x32        3,584
//   ...
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "nibble/net/describe.hpp"

namespace nibble {

// A residual block's row counts the parameters of the layers inside it,
// which follow as rows of their own ("2.0", "2.1", ...).
template <class Net>
std::string summary() {
  struct row {
    std::string position, layer, output, parameters;
  };
  std::vector<row> rows{{"#", "layer", "output", "parameters"},
                        {"-", "input", detail::shape_text<typename Net::input_shape>(), "-"}};
  Net::for_each_layer_type([&]<class L>(const std::string& position) {
    rows.push_back({position, L::describe(), detail::shape_text<typename L::output_shape>(),
                    detail::grouped(L::parameter_count)});
  });
  std::size_t widths[3] = {0, 0, 0};
  for (const row& r : rows) {
    widths[0] = std::max(widths[0], r.position.size());
    widths[1] = std::max(widths[1], r.layer.size());
    widths[2] = std::max(widths[2], r.output.size());
  }
  std::string text = describe_network<Net>().summary + "\n";
  for (const row& r : rows)
    text += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>10}\n", r.position, widths[0], r.layer, widths[1], r.output,
                        widths[2], r.parameters);
  return text;
}

template <class Net>
std::string summary(const Net&) {
  return summary<Net>();
}

}  // namespace nibble
