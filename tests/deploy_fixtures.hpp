#pragma once
// What the deployment and C-header tests share: random batches and images,
// a normalisation, and trained-looking networks to convert.
#include <cstdint>
#include <memory>
#include <random>

#include "nibble/core/context.hpp"
#include "nibble/core/parameter.hpp"
#include "nibble/core/shape.hpp"
#include "nibble/data/augment.hpp"

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

// Uniformly random 8-bit images of Shape.
template <class Shape>
nibble::image_batch random_images(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  nibble::image_batch x({n, Shape::channels, Shape::height, Shape::width});
  for (auto& v : x) v = std::uint8_t(rng() >> 56);
  return x;
}

// A normalisation that differs from channel to channel.
inline nibble::data::normalisation test_normalisation(std::size_t channels) {
  nibble::data::normalisation n;
  for (std::size_t c = 0; c < channels; ++c) {
    n.mean.push_back(0.45f + 0.02f * float(c));
    n.std.push_back(0.22f + 0.015f * float(c));
  }
  return n;
}

// The images as training feeds them to the network (image_preparation).
inline nibble::activation normalised(const nibble::image_batch& images, const nibble::data::normalisation& norm) {
  const nibble::data::image_shape shape{images.shape(1), images.shape(2), images.shape(3)};
  const nibble::data::image_preparation<std::uint8_t> prepare(shape, norm);
  nibble::activation x({images.shape(0), shape.channels, shape.height, shape.width});
  for (std::size_t i = 0; i < images.shape(0); ++i)
    prepare.normalise(images.data() + i * shape.size(), x.data() + i * shape.size());
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
