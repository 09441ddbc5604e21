#pragma once
// linear<Out, Scheme, Init = paper_init>
//
// Represents: a fully connected layer y = Wq·x + b with Out outputs, W
// fake-quantized by Scheme on every forward pass.
// Requires: a flat input (shape<F, 1, 1>); put flatten or global_avg_pool
// before it.
// Ensures: output shape<Out, 1, 1>. A Scheme that quantizes activations
// quantizes the input as conv2d does.
#include <algorithm>
#include <cmath>
#include <random>

#include "nibble/kernels/gemm.hpp"
#include "nibble/layers/init.hpp"
#include "nibble/layers/layer.hpp"
#include "nibble/layers/quantized_weight_matrix.hpp"
#include "nibble/quant/scheme.hpp"

namespace nibble {

template <class In, std::size_t Out, class Scheme, class Init = paper_init>
class linear_layer : public quantized_weight_matrix<Scheme, Out, In::size> {
  static_assert(In::is_flat,
                "nibble::linear: its input is not flat (it has height and width); put flatten or "
                "global_avg_pool before it.");

 public:
  using input_shape = In;
  using output_shape = shape<Out, 1, 1>;
  static constexpr std::size_t fan_in = In::size;

  static std::string describe() {
    return "linear " + std::to_string(Out) + " outputs; weights " + Scheme::describe() + Init::describe();
  }

  // The paper's: N(0, 1/fan_in), zero bias.
  void init(std::mt19937_64& rng) { Init::apply(*this, rng, fan_in, 1.0f); }

  void forward(const activation& x, activation& y, context& ctx) {
    this->quantize_weights(ctx);
    const std::size_t n = x.shape(0);
    float* out = y.data();
    if constexpr (Scheme::quantizes_activations) {
      const activation& codes = this->inputs.encode(x, ctx);
      kernels::gemm(n, Out, fan_in, kernels::row_major(codes.data(), fan_in),
                    kernels::transposed(this->weight_codes().data(), fan_in), out, Out, false);
      this->scale_integer_sums(out, n, 1, this->inputs.grid().step);
    } else {
      for (std::size_t i = 0; i < n; ++i) std::copy(this->bias.value.begin(), this->bias.value.end(), out + i * Out);
      kernels::gemm(n, Out, fan_in, kernels::row_major(x.data(), fan_in),
                    kernels::transposed(this->quantized(), fan_in), out, Out, true);
    }
  }

  void backward(const activation& x, const activation&, const activation& dy, activation* dx, context&) {
    const std::size_t n = x.shape(0);
    // dW = dyᵀ·x, db = Σ dy, dx = dy·Wq; with quantized inputs the product
    // saw step_x · codes, and dx is masked where the codes saturate.
    const float* product_input = x.data();
    if constexpr (Scheme::quantizes_activations) product_input = this->inputs.codes().data();
    kernels::gemm(Out, fan_in, n, kernels::transposed(dy.data(), Out), kernels::row_major(product_input, fan_in),
                  this->weight.grad.data(), fan_in, false);
    if constexpr (Scheme::quantizes_activations)
      kernels::scale(this->weight.grad.data(), this->weight_count, this->inputs.grid().step);
    for (std::size_t o = 0; o < Out; ++o) {
      float s = 0.0f;
      for (std::size_t i = 0; i < n; ++i) s += dy.data()[i * Out + o];
      this->bias.grad(o) = s;
    }
    activation* din = dx;
    if constexpr (Scheme::quantizes_activations) din = this->input_gradient_target(dx, x);
    if (din) {
      kernels::gemm(n, fan_in, Out, kernels::row_major(dy.data(), Out), kernels::row_major(this->quantized(), fan_in),
                    din->data(), fan_in, false);
      if constexpr (Scheme::quantizes_activations) this->inputs.mask_gradient(x, *din);
    }
    this->apply_estimator();
  }
};

template <std::size_t Out, quant_scheme Scheme, class Init = paper_init>
struct linear {
  static_assert(Out > 0, "nibble::linear: the number of outputs must be positive.");
  template <class In>
  static constexpr bool accepts = In::is_flat;
  template <class In>
  using bind = linear_layer<In, Out, Scheme, Init>;
};

}  // namespace nibble
