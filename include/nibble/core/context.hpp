#pragma once
// What a forward pass needs to know beyond its input: whether it is training
// (batch statistics, dropout) and the random source for stochastic layers.
#include <cstdint>
#include <random>

namespace nibble {

enum class mode { train, eval };

struct context {
  mode phase = mode::train;
  std::mt19937_64 rng{0};
  bool training() const { return phase == mode::train; }
};

}  // namespace nibble
