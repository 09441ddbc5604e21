#pragma once
// linear<Out, Scheme>
//
// Represents: a fully connected layer y = Wq·x + b with Out outputs, W
// fake-quantized by Scheme on every forward pass.
// Requires: a flat input (shape<F, 1, 1>); put flatten or global_avg_pool
// before it.
// Ensures: output shape<Out, 1, 1>.
#include <cmath>
#include <random>
#include <vector>

#include "nibble/kernels/gemm.hpp"
#include "nibble/layers/layer.hpp"
#include "nibble/quant/scheme.hpp"

namespace nibble {

template <class In, std::size_t Out, class Scheme>
class linear_layer {
  static_assert(In::is_flat,
                "nibble::linear: its input is not flat (it has height and width); put flatten or "
                "global_avg_pool before it.");

 public:
  using input_shape = In;
  using output_shape = shape<Out, 1, 1>;
  using scheme_type = Scheme;
  static constexpr std::size_t fan_in = In::size;
  static constexpr std::size_t weight_count = Out * fan_in;
  static constexpr std::size_t parameter_count = weight_count + Out;

  parameter weight{weight_count, parameter_role::weight};
  parameter bias{Out, parameter_role::bias};

  // N(0, 1/fan_in), zero bias (the paper's choice).
  void init(std::mt19937_64& rng) {
    std::normal_distribution<float> normal(0.0f, std::sqrt(1.0f / float(fan_in)));
    for (auto& w : weight.value) w = normal(rng);
    bias.value.fill(0.0f);
  }

  void forward(const activation& x, activation& y, context&) {
    quantize_weights();
    const std::size_t n = x.shape(0);
    float* out = y.data();
    for (std::size_t i = 0; i < n; ++i) std::copy(bias.value.begin(), bias.value.end(), out + i * Out);
    kernels::gemm(n, Out, fan_in, kernels::row_major(x.data(), fan_in), kernels::transposed(quantized_.data(), fan_in),
                  out, Out, true);
  }

  void backward(const activation& x, const activation&, const activation& dy, activation* dx, context&) {
    const std::size_t n = x.shape(0);
    // dW = dyᵀ·x, db = Σ dy, dx = dy·Wq.
    kernels::gemm(Out, fan_in, n, kernels::transposed(dy.data(), Out), kernels::row_major(x.data(), fan_in),
                  weight.grad.data(), fan_in, false);
    for (std::size_t o = 0; o < Out; ++o) {
      float s = 0.0f;
      for (std::size_t i = 0; i < n; ++i) s += dy.data()[i * Out + o];
      bias.grad(o) = s;
    }
    if (dx)
      kernels::gemm(n, fan_in, Out, kernels::row_major(dy.data(), Out), kernels::row_major(quantized_.data(), fan_in),
                    dx->data(), fan_in, false);
    Scheme::backward(weight.value.data(), scales_.data(), weight.grad.data(), Out, fan_in);
  }

  template <class F>
  void visit_parameters(F&& f) {
    f(weight);
    f(bias);
  }
  template <class F>
  void visit_buffers(F&&) {}
  void post_step() { Scheme::post_step(weight.value.data(), weight_count); }

  const std::vector<float>& quantized_weights() const { return quantized_; }
  const std::vector<float>& scales() const { return scales_; }
  void quantize_weights() {
    quantized_.resize(weight_count);
    scales_.resize(Scheme::scale_count(Out));
    Scheme::quantize(weight.value.data(), quantized_.data(), Out, fan_in, scales_.data());
  }

 private:
  std::vector<float> quantized_;
  std::vector<float> scales_;
};

template <std::size_t Out, quant_scheme Scheme>
struct linear {
  static_assert(Out > 0, "nibble::linear: the number of outputs must be positive.");
  template <class In>
  static constexpr bool accepts = In::is_flat;
  template <class In>
  using bind = linear_layer<In, Out, Scheme>;
};

}  // namespace nibble
