#pragma once
// The trainable part of a conv2d or linear layer: a weight matrix of Rows
// outputs × Cols inputs and a bias per output, kept as float master values
// for the optimizer, plus the fake-quantized copy of the weights that the
// layer's forward and backward multiply with. Both layers derive from it.
//
// When the scheme quantizes activations the forward product runs on integer
// codes instead — the input's centred codes times the weight codes, whose
// float sums are exact while they stay below 2^24 — and the epilogue turns
// each sum into the output with one multiply-add per channel:
//   y = (step_x · s_w) · Σ c_x c_w + bias,
// in double and rounded once (kernels/scaled_sums.hpp): the same pass a
// deployed integer layer and the exported C begin their epilogue with.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "nibble/core/context.hpp"
#include "nibble/core/parameter.hpp"
#include "nibble/kernels/activation_codes.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/kernels/scaled_sums.hpp"
#include "nibble/quant/accumulator.hpp"
#include "nibble/quant/input_quantizer.hpp"
#include "nibble/quant/learned_step.hpp"
#include "nibble/quant/scheme.hpp"

namespace nibble {

template <class Scheme, std::size_t Rows, std::size_t Cols>
class quantized_weight_matrix {
 public:
  // |weight code| <= 2^(W-1) for uniform levels (the bound of the int8
  // kernels' signed codes), the top level for power-of-two ones.
  static constexpr unsigned long long largest_weight_code =
      Scheme::bit_width::uniform ? 1ull << (Scheme::bit_width::width - 1) : (unsigned long long)Scheme::qmax;
  static_assert(!Scheme::quantizes_activations || !Scheme::quantized ||
                    codes_fit_accumulator(Cols, largest_weight_code, Scheme::activations::max_code),
                "nibble: this layer's fan-in is too large for its scheme: fan-in x (largest activation code) x "
                "(largest weight code) does not fit the int32 accumulator of integer inference. Use fewer "
                "activation or weight bits, or a smaller layer.");

  using scheme_type = Scheme;
  using weight_bits = typename Scheme::bit_width;
  using arithmetic = typename Scheme::arithmetic;
  using input_activations = typename Scheme::activations;
  static constexpr std::size_t weight_count = Rows * Cols;
  static constexpr std::size_t step_count = Scheme::learned_scale ? Scheme::scale_count(Rows) : 0;
  static constexpr std::size_t input_step_count = Scheme::activations::learned ? 1 : 0;
  static constexpr std::size_t parameter_count = weight_count + Rows + step_count + input_step_count;

  parameter weight{weight_count, parameter_role::weight};
  parameter bias{Rows, parameter_role::bias};
  // The learned steps (LSQ schemes only; otherwise empty and never visited).
  parameter step{step_count, parameter_role::step};
  // The input's range and codes (nothing for float activations).
  input_quantizer<typename Scheme::activations> inputs;
  // The grid its input codes lie on (uniform activation codes only).
  kernels::code_grid grid() const
    requires(Scheme::quantizes_activations && Scheme::activations::uniform)
  {
    return inputs.grid();
  }

  // Weights N(0, stddev²), zero bias.
  void init_normal(std::mt19937_64& rng, float stddev) {
    std::normal_distribution<float> normal(0.0f, stddev);
    for (auto& w : weight.value) w = normal(rng);
    after_init();
  }
  // Weights U(−bound, bound), zero bias.
  void init_uniform(std::mt19937_64& rng, float bound) {
    std::uniform_real_distribution<float> uniform(-bound, bound);
    for (auto& w : weight.value) w = uniform(rng);
    after_init();
  }

  void after_init() {
    bias.value.fill(0.0f);
    if constexpr (Scheme::learned_scale) reset_steps();
    if constexpr (Scheme::quantizes_activations) inputs.reset();
  }

  // LSQ: sets each learned step to 2·mean|W| / sqrt(qmax) of the weights it
  // scales (init does; call it after loading other weights into the layer).
  void reset_steps() {
    if constexpr (Scheme::learned_scale)
      Scheme::scaling::compute(weight.value.data(), Rows, Cols, float(Scheme::qmax), step.value.data());
  }

  // The weights and scales inference uses (round to nearest; the learned
  // steps for LSQ): what evaluation computes and deployment stores.
  void quantize_for_inference(std::vector<float>& wq, std::vector<float>& scales) const {
    wq.resize(weight_count);
    scales.resize(Scheme::scale_count(Rows));
    if constexpr (Scheme::learned_scale) std::copy(step.value.begin(), step.value.end(), scales.begin());
    Scheme::quantize(weight.value.data(), wq.data(), Rows, Cols, scales.data());
  }

  // Refreshes the quantized copy from the master weights, rounding to
  // nearest (evaluation, statistics, deployment).
  void quantize_weights() {
    temperature_ = 0.0f;
    quantize_with(nullptr);
  }
  // The same in a forward pass: in training, a stochastic-rounding scheme
  // draws this step's rounding from the context, and a soft-staircase
  // scheme takes its temperature from the run's progress.
  void quantize_weights(context& ctx) {
    if (!ctx.training()) return quantize_weights();
    std::uint64_t key = 0;
    if constexpr (Scheme::stochastic) key = ctx.next_key();
    if constexpr (Scheme::estimator::soft) temperature_ = Scheme::estimator::temperature(ctx.progress);
    quantize_with(Scheme::stochastic ? &key : nullptr);
  }

  // The quantized weights (Rows × Cols) and scales of the last forward pass.
  const std::vector<float>& quantized_weights() const { return quantized_; }
  const std::vector<float>& scales() const { return scales_; }

  // The weight codes of the last forward (schemes that quantize activations).
  const std::vector<float>& weight_codes() const { return codes_; }

  // y[n][r][p] = (step_x · s_w(r)) · y[n][r][p] + bias[r] (scaled_sums):
  // integer product sums to the layer's float output.
  void scale_integer_sums(float* y, std::size_t batch, std::size_t pixels, float input_step) const {
    const auto a = [&](std::size_t r) { return input_step * scales_[Scheme::per_channel ? r : 0]; };
    if (pixels == 1) {  // a linear layer: each image's outputs across the channels
      std::vector<float> multipliers(Rows);
      for (std::size_t r = 0; r < Rows; ++r) multipliers[r] = a(r);
      kernels::parallel_for(batch, [&](std::size_t n, int) {
        kernels::scaled_sums_across(multipliers.data(), bias.value.data(), y + n * Rows, y + n * Rows, Rows);
      });
      return;
    }
    kernels::parallel_for(Rows, [&](std::size_t r, int) {
      for (std::size_t n = 0; n < batch; ++n) {
        float* row = y + (n * Rows + r) * pixels;
        kernels::scaled_sums(a(r), bias.value[r], row, row, pixels);
      }
    });
  }

  // weight.grad holds dL/dWq; make it dL/dW with the scheme's estimator
  // (and, for LSQ, first take each step's gradient from it).
  void apply_estimator() {
    if constexpr (Scheme::learned_scale) {
      constexpr std::size_t groups = Scheme::scale_count(Rows), n = weight_count / groups;
      for (std::size_t g = 0; g < groups; ++g)
        step.grad[g] = learned_step_gradient(weight.value.data() + g * n, weight.grad.data() + g * n, n, scales_[g],
                                             float(Scheme::qmax));
    }
    Scheme::backward(weight.value.data(), scales_.data(), weight.grad.data(), Rows, Cols, temperature_,
                     Scheme::estimator::soft ? slopes_.data() : nullptr);
  }

  template <class F>
  void visit_parameters(F&& f) {
    f(weight);
    f(bias);
    if constexpr (Scheme::learned_scale) f(step);
    if constexpr (Scheme::activations::learned) inputs.visit_parameters(f);
  }
  template <class F>
  void visit_buffers(F&& f) {
    inputs.visit_buffers(f);
  }
  void post_step() {
    Scheme::post_step(weight.value.data(), weight_count);
    if constexpr (Scheme::learned_scale)  // a step must stay positive
      for (float& s : step.value) s = std::max(s, min_step);
    if constexpr (Scheme::activations::learned) inputs.post_step();
  }

  // Where backward writes dL/dx: the caller's dx, or, when the caller needs
  // none but a learned input step does (its gradient comes from dL/dx), a
  // buffer of the layer's own.
  activation* input_gradient_target(activation* dx, const activation& x) {
    if constexpr (Scheme::activations::learned) {
      if (!dx) {
        input_gradient_.resize(x.shape());
        return &input_gradient_;
      }
    }
    return dx;
  }
  static constexpr float min_step = 1e-8f;

 protected:
  const float* quantized() const { return quantized_.data(); }

 private:
  void quantize_with(const std::uint64_t* key) {
    quantized_.resize(weight_count);
    scales_.resize(Scheme::scale_count(Rows));
    if constexpr (Scheme::learned_scale) std::copy(step.value.begin(), step.value.end(), scales_.begin());
    float* slopes = nullptr;
    if constexpr (Scheme::estimator::soft) {
      slopes_.resize(weight_count);
      slopes = slopes_.data();
    }
    Scheme::quantize(weight.value.data(), quantized_.data(), Rows, Cols, scales_.data(), key, temperature_, slopes);
    if constexpr (Scheme::quantizes_activations) {
      // The codes of the quantized weights, however they were rounded (a
      // soft staircase's values between levels are kept as they are).
      const bool soft = temperature_ > 0.0f;
      codes_.resize(weight_count);
      for (std::size_t r = 0; r < Rows; ++r) {
        const float s = scales_[Scheme::per_channel ? r : 0];
        for (std::size_t c = 0; c < Cols; ++c) {
          if constexpr (Scheme::quantized)
            codes_[r * Cols + c] = soft ? quantized_[r * Cols + c] / s : std::nearbyint(quantized_[r * Cols + c] / s);
          else
            codes_[r * Cols + c] = weight.value[r * Cols + c];
        }
      }
    }
  }

  std::vector<float> quantized_;
  std::vector<float> scales_;
  std::vector<float> codes_;
  float temperature_ = 0.0f;  // of the soft staircase in the last forward; 0: hard
  std::vector<float> slopes_;  // its derivative at each weight (soft staircase schemes only)
  activation input_gradient_;  // see input_gradient_target
};

}  // namespace nibble
