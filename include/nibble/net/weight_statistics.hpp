#pragma once
// What the trainer reports about a network after each epoch: distinct
// quantized levels per weight layer and the model size in FP32 and packed.
#include <algorithm>
#include <cstddef>
#include <set>
#include <vector>

#include "nibble/core/parameter.hpp"

namespace nibble {

template <class L>
concept quantized_weight_layer = requires(L& l) {
  typename L::scheme_type;
  l.quantize_weights();
  l.quantized_weights();
  l.scales();
  l.weight;
};

// Number of distinct values in each weight layer's quantized weights, in
// layer order (at most 15 per layer for 4-bit schemes).
template <class Net>
std::vector<std::size_t> distinct_weight_levels(Net& net) {
  std::vector<std::size_t> levels;
  net.visit_layers([&](auto& l) {
    using L = std::remove_reference_t<decltype(l)>;
    if constexpr (quantized_weight_layer<L>) {
      l.quantize_weights();
      const auto& q = l.quantized_weights();
      levels.push_back(std::set<float>(q.begin(), q.end()).size());
    }
  });
  return levels;
}

struct model_size {
  std::size_t fp32_bytes = 0;    // every parameter as a float
  std::size_t packed_bytes = 0;  // quantized weights at their bit width, the rest float, plus scales
};

template <class Net>
model_size measure_model_size(Net& net) {
  model_size s;
  net.visit_parameters([&](parameter& p) { s.fp32_bytes += p.size() * sizeof(float); });
  net.visit_layers([&](auto& l) {
    using L = std::remove_reference_t<decltype(l)>;
    if constexpr (quantized_weight_layer<L>) {
      using S = typename L::scheme_type;
      l.quantize_weights();
      const std::size_t n = l.weight.size();
      if constexpr (S::quantized)
        s.packed_bytes += (n * std::size_t(S::bit_width::width) + 7) / 8 + l.scales().size() * sizeof(float);
      else
        s.packed_bytes += n * sizeof(float);
      l.visit_parameters([&](parameter& p) {
        if (p.role != parameter_role::weight) s.packed_bytes += p.size() * sizeof(float);
      });
    } else {
      if constexpr (!requires { l.visit_layers([](auto&) {}); })
        l.visit_parameters([&](parameter& p) { s.packed_bytes += p.size() * sizeof(float); });
    }
  });
  return s;
}

}  // namespace nibble
