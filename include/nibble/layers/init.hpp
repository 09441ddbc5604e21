#pragma once
// How conv2d and linear draw their initial weights (biases start at 0).
//
// paper_init: N(0, gain/fan_in), gain 2 for convolutions (He) and 1 for
// linear layers: the paper's choice and every layer's default.
// torch_uniform_init: U(−1/√fan_in, 1/√fan_in), PyTorch's default for
// both, with a third of 1/fan_in for variance. With batch norm after a
// layer, its weights' norm sets their effective rate (rate / |w|²), so
// rates tuned in PyTorch, such as airbench's, need its init.
#include <cmath>
#include <cstddef>
#include <random>
#include <string>

namespace nibble {

struct paper_init {
  template <class Matrix>
  static void apply(Matrix& m, std::mt19937_64& rng, std::size_t fan_in, float gain) {
    m.init_normal(rng, std::sqrt(gain / float(fan_in)));
  }
  static std::string describe() { return ""; }
};

struct torch_uniform_init {
  template <class Matrix>
  static void apply(Matrix& m, std::mt19937_64& rng, std::size_t fan_in, float) {
    m.init_uniform(rng, 1.0f / std::sqrt(float(fan_in)));
  }
  static std::string describe() { return "; init U(±1/sqrt(fan-in))"; }
};

}  // namespace nibble
