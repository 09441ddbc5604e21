#pragma once
// The trainable part of a conv2d or linear layer: a weight matrix of Rows
// outputs × Cols inputs and a bias per output, kept as float master values
// for the optimizer, plus the fake-quantized copy of the weights that the
// layer's forward and backward multiply with. Both layers derive from it.
#include <cmath>
#include <random>
#include <vector>

#include "nibble/core/parameter.hpp"
#include "nibble/quant/scheme.hpp"

namespace nibble {

template <class Scheme, std::size_t Rows, std::size_t Cols>
class quantized_weight_matrix {
 public:
  using scheme_type = Scheme;
  using weight_bits = typename Scheme::bit_width;
  using arithmetic = typename Scheme::arithmetic;
  static constexpr std::size_t weight_count = Rows * Cols;
  static constexpr std::size_t parameter_count = weight_count + Rows;

  parameter weight{weight_count, parameter_role::weight};
  parameter bias{Rows, parameter_role::bias};

  // Weights N(0, stddev²), zero bias.
  void init_normal(std::mt19937_64& rng, float stddev) {
    std::normal_distribution<float> normal(0.0f, stddev);
    for (auto& w : weight.value) w = normal(rng);
    bias.value.fill(0.0f);
  }

  // Refreshes the quantized copy from the master weights (every forward).
  void quantize_weights() {
    quantized_.resize(weight_count);
    scales_.resize(Scheme::scale_count(Rows));
    Scheme::quantize(weight.value.data(), quantized_.data(), Rows, Cols, scales_.data());
  }
  // The quantized weights (Rows × Cols) and scales of the last forward pass.
  const std::vector<float>& quantized_weights() const { return quantized_; }
  const std::vector<float>& scales() const { return scales_; }

  // weight.grad holds dL/dWq; make it dL/dW with the scheme's estimator.
  void apply_estimator() { Scheme::backward(weight.value.data(), scales_.data(), weight.grad.data(), Rows, Cols); }

  template <class F>
  void visit_parameters(F&& f) {
    f(weight);
    f(bias);
  }
  template <class F>
  void visit_buffers(F&&) {}
  void post_step() { Scheme::post_step(weight.value.data(), weight_count); }

 protected:
  const float* quantized() const { return quantized_.data(); }

 private:
  std::vector<float> quantized_;
  std::vector<float> scales_;
};

}  // namespace nibble
