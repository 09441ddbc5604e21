#pragma once
// A network's tensors as one section of a file: every parameter, then every
// buffer (batch-norm statistics), as float arrays in visit order. Shared by
// checkpoints (which add the optimizer's state) and weights files (which
// hold nothing else). Reading decodes and checks every tensor before the
// network is touched, so a bad file changes nothing.
#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "nibble/core/parameter.hpp"
#include "nibble/io/byte_order.hpp"

namespace nibble::io {

template <class Net>
void write_network_tensors(byte_writer& out, Net& net) {
  net.visit_parameters([&](parameter& p) { out.floats(std::span<const float>(p.value.data(), p.size())); });
  net.visit_buffers([&](xt::xtensor<float, 1>& b) { out.floats(std::span<const float>(b.data(), b.size())); });
}

// Every tensor of `net`'s sizes, decoded from `in` (which must end there).
template <class Net>
std::vector<std::vector<float>> read_network_tensors(byte_reader& in, Net& net) {
  std::vector<std::vector<float>> tensors;
  net.visit_parameters([&](parameter& p) { tensors.emplace_back(p.size()); });
  net.visit_buffers([&](xt::xtensor<float, 1>& b) { tensors.emplace_back(b.size()); });
  for (std::size_t k = 0; k < tensors.size(); ++k) in.floats(tensors[k], "tensor " + std::to_string(k));
  in.expect_end();
  return tensors;
}

// Copies tensors read by read_network_tensors into `net`.
template <class Net>
void assign_network_tensors(Net& net, const std::vector<std::vector<float>>& tensors) {
  std::size_t k = 0;
  net.visit_parameters([&](parameter& p) {
    std::copy(tensors[k].begin(), tensors[k].end(), p.value.begin());
    ++k;
  });
  net.visit_buffers([&](xt::xtensor<float, 1>& b) {
    std::copy(tensors[k].begin(), tensors[k].end(), b.begin());
    ++k;
  });
}

}  // namespace nibble::io
