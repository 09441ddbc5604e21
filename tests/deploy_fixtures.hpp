#pragma once
// What the deployment and C-header tests share: random batches, and
// trained-looking networks to convert.
#include <cstdint>
#include <memory>
#include <random>

#include "nibble/core/context.hpp"
#include "nibble/core/parameter.hpp"
#include "nibble/core/shape.hpp"

namespace fixtures {

// N(0, 1) images of Shape.
template <class Shape>
nibble::activation random_batch(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  nibble::activation x({n, Shape::channels, Shape::height, Shape::width});
  for (auto& v : x) v = normal(rng);
  return x;
}

// Init, biases and batch-norm parameters drawn away from their initial
// values, then a few training passes on random batches, which set every
// running statistic and input range.
template <class Net>
std::unique_ptr<Net> trained_looking(std::uint64_t seed) {
  auto net = std::make_unique<Net>();
  std::mt19937_64 rng(seed);
  net->init(rng);
  std::uniform_real_distribution<float> u(0.5f, 1.5f), centred(-0.5f, 0.5f);
  net->visit_parameters([&](nibble::parameter& p) {
    if (p.role != nibble::parameter_role::weight)
      for (auto& v : p.value) v = p.role == nibble::parameter_role::bias ? centred(rng) : u(rng);
  });
  nibble::context train;
  for (std::uint64_t i = 0; i < 4; ++i) net->forward(random_batch<typename Net::input_shape>(8, seed + i), train);
  return net;
}

}  // namespace fixtures
