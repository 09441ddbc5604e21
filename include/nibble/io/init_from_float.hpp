#pragma once
// Starting a quantized network from a trained float one: the explicit
// conversion behind fine-tuning (the trainers' --init-from). The checkpoint
// must hold the float network (every layer's weights "float") of the same
// topology — the same layers, sizes and output shapes, whatever the schemes
// — or it is refused, naming the first layer that differs.
//
// The float network's tensors are the quantized one's minus what only
// quantized schemes have: learned steps (weights': started afresh from the
// loaded weights, 2·mean|W|/√Q) and the input quantizers' state (ranges and
// learned input steps: reset, so that the first training batch sets them). Everything is decoded and checked before
// the network is touched.
#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "nibble/io/byte_order.hpp"
#include "nibble/io/checkpoint.hpp"
#include "nibble/io/network_match.hpp"

namespace nibble {

namespace detail {

// A layer line without its scheme: "0 conv2d 64 filters 3x3, stride 1,
// padding 1 -> 64x32x32".
inline std::string topology_of(const std::string& line) {
  const std::size_t scheme = line.find("; weights ");
  if (scheme == std::string::npos) return line;
  const std::size_t arrow = line.find(" -> ", scheme);
  return line.substr(0, scheme) + (arrow == std::string::npos ? std::string() : line.substr(arrow));
}

inline bool has_quantized_weights(const std::string& line) {
  const std::size_t scheme = line.find("; weights ");
  return scheme != std::string::npos && line.compare(scheme, 16, "; weights float,") != 0;
}

}  // namespace detail

template <class Net>
void init_from_float(const checkpoint& c, Net& net, std::string_view label = {}) {
  const auto file_lines = io::detail::lines_of(c.network());
  const auto program_lines = io::detail::lines_of(describe_network<Net>().text());
  const std::string head = "cannot start " + (label.empty() ? std::string("this network") : std::string(label)) +
                           " from the checkpoint" + (c.run().model.empty() ? std::string() : " of " + c.run().model) + ": ";
  // Line 0 is the summary (which names the schemes); the layers follow.
  for (std::size_t i = 1; i < std::max(file_lines.size(), program_lines.size()); ++i) {
    const std::string file = i < file_lines.size() ? detail::topology_of(file_lines[i]) : "(no layer)";
    const std::string program = i < program_lines.size() ? detail::topology_of(program_lines[i]) : "(no layer)";
    if (file != program)
      throw checkpoint_error(head + "the topologies differ, first at\n  checkpoint: " + file + "\n  program:    " +
                             program);
  }
  for (std::size_t i = 1; i < file_lines.size(); ++i)
    if (detail::has_quantized_weights(file_lines[i]))
      throw checkpoint_error(head + "it holds quantized weights (" + file_lines[i] +
                             "); fine-tuning starts from a network with float weights (float32_scheme)");

  // The tensors the float network has, in its visit order.
  std::set<const void*> ranges;  // the input quantizers' buffers: quantized activations only
  net.visit_layers([&](auto& l) {
    if constexpr (requires { l.inputs; }) l.inputs.visit_buffers([&](xt::xtensor<float, 1>& b) { ranges.insert(&b); });
  });
  std::vector<parameter*> params;
  net.visit_parameters([&](parameter& p) {
    if (p.role != parameter_role::step) params.push_back(&p);
  });
  std::vector<xt::xtensor<float, 1>*> buffers;
  net.visit_buffers([&](xt::xtensor<float, 1>& b) {
    if (!ranges.count(&b)) buffers.push_back(&b);
  });
  std::vector<std::vector<float>> values;
  for (parameter* p : params) values.emplace_back(p->size());
  for (auto* b : buffers) values.emplace_back(b->size());
  io::byte_reader tens(c.section_bytes("TENS"), head + "section TENS");
  for (std::size_t k = 0; k < values.size(); ++k) tens.floats(values[k], "tensor " + std::to_string(k));
  tens.expect_end();

  std::size_t k = 0;
  for (parameter* p : params) {
    std::copy(values[k].begin(), values[k].end(), p->value.begin());
    ++k;
  }
  for (auto* b : buffers) {
    std::copy(values[k].begin(), values[k].end(), b->begin());
    ++k;
  }
  net.visit_layers([&](auto& l) {
    if constexpr (requires { l.reset_steps(); }) l.reset_steps();
    if constexpr (requires { l.inputs.reset(); }) l.inputs.reset();
  });
}

}  // namespace nibble
