#pragma once
// What a forward pass needs to know beyond its input: whether it is training
// (batch statistics, dropout), the random source for dropout, and where the
// run is (seed and step) for counter-based draws such as stochastic rounding.
#include <cstdint>
#include <random>

#include "nibble/core/counter_random.hpp"

namespace nibble {

enum class mode { train, eval };

struct context {
  mode phase = mode::train;
  std::mt19937_64 rng{0};
  std::uint64_t seed = 0;  // the run's seed
  std::uint64_t step = 0;  // the training step (batch) the next forward belongs to
  std::uint64_t draws = 0;  // keys handed out in this step
  float progress = 0;       // fraction of the training run done (annealed quantizers)

  bool training() const { return phase == mode::train; }

  // Starts a step: the keys that follow depend only on (seed, step) and
  // the order in which layers ask, which a network fixes.
  void begin_step(std::uint64_t s) {
    step = s;
    draws = 0;
  }
  std::uint64_t next_key() { return derive_key(seed, step, draws++); }
};

}  // namespace nibble
