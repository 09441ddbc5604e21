#pragma once
// A trainable tensor: float master values, their gradient, and its role,
// which decides whether weight decay and the scheme's clip apply.
#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

namespace nibble {

enum class parameter_role {
  weight,  // rank >= 2 (conv kernels, linear matrices): quantized and clipped
  bias,    // stays float
  norm,    // batch-norm scale and shift: stay float
  step     // a learned quantizer step (LSQ): stays float, no weight decay
};

struct parameter {
  xt::xtensor<float, 1> value;
  xt::xtensor<float, 1> grad;
  parameter_role role = parameter_role::weight;

  explicit parameter(std::size_t n = 0, parameter_role r = parameter_role::weight)
      : value(xt::zeros<float>({n})), grad(xt::zeros<float>({n})), role(r) {}
  std::size_t size() const { return value.size(); }
};

// The size of each of a network's parameters, in visit order: what saved
// optimizer state or a weight average is checked against.
template <class Net>
std::vector<std::size_t> parameter_sizes(Net& net) {
  std::vector<std::size_t> sizes;
  net.visit_parameters([&](parameter& p) { sizes.push_back(p.size()); });
  return sizes;
}

}  // namespace nibble
