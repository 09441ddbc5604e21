#pragma once
// The input side of a conv2d or linear layer whose scheme quantizes
// activations: it tracks the range of the layer's input during training,
// turns each input into centred integer codes for the layer's product, and
// masks the input gradient where the codes saturate. For float_activations
// it holds nothing and is never called.
//
// The range is one buffer of two floats {lo, hi} (checkpointed with the
// batch-norm statistics). Both are 0 until the first training batch, which
// sets them; later batches move them by the policy's EMA rate. The range
// always contains 0, so that 0 (and the convolution's zero padding) is a code.
//
// learned_activation_bits<N> (LSQ) instead trains the grid's step, and
// pact_activation_bits<N> (PACT) the grid's top, the clip level α: a
// parameter of the layer, with a buffer {zero point, started} that the first
// training batch sets.
//
// power_of_two_activations<N, E> rounds to power-of-two levels (zero point
// 0) under a moving max|x|, in training through E's soft staircase, whose
// slope forward keeps for backward.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "nibble/core/context.hpp"
#include "nibble/core/parameter.hpp"
#include "nibble/core/shape.hpp"
#include "nibble/kernels/activation_codes.hpp"
#include "nibble/kernels/quantizer_gradients.hpp"
#include "nibble/quant/activations.hpp"
#include "nibble/quant/learned_step.hpp"
#include "nibble/quant/soft_staircase.hpp"

namespace nibble {

template <class Policy>
class input_quantizer {
 public:
  xt::xtensor<float, 1> range = xt::zeros<float>({2});

  void reset() { range.fill(0.0f); }

  // The grid the current range gives. A degenerate range (all inputs zero
  // so far) gets step 1, so codes stay finite.
  kernels::code_grid grid() const {
    const float lo = std::min(range(0), 0.0f), hi = std::max(range(1), 0.0f);
    const float max_code = float(Policy::max_code);
    const float step = hi - lo > 0.0f ? (hi - lo) / max_code : 1.0f;
    const float zero = std::clamp(std::nearbyint(-lo / step), 0.0f, max_code);
    return {step, zero, max_code};
  }

  // In training, folds the batch's range into the average first. Returns
  // the centred codes of x, valid until the next call.
  const activation& encode(const activation& x, const context& ctx) {
    if (ctx.training()) observe(x.data(), x.size());
    codes_.resize(x.shape());
    kernels::centered_codes(x.data(), codes_.data(), x.size(), grid());
    return codes_;
  }
  const activation& codes() const { return codes_; }

  // dL/dx from dL/d(dequantized x): zero where x was clamped.
  void mask_gradient(const activation& x, activation& dx) const {
    kernels::mask_outside_grid(x.data(), dx.data(), x.size(), grid());
  }

  template <class F>
  void visit_buffers(F&& f) {
    f(range);
  }

 private:
  void observe(const float* x, std::size_t n) {
    const auto [lo, hi] = kernels::min_max(x, n);
    if (range(0) == 0.0f && range(1) == 0.0f) {
      range(0) = lo;
      range(1) = hi;
    } else {
      range(0) += Policy::ema_rate * (lo - range(0));
      range(1) += Policy::ema_rate * (hi - range(1));
    }
  }

  activation codes_;
};

// A learned grid: the parameter is the step (LSQ) or the clip level α, the
// top of the grid (PACT).
template <class Policy>
  requires(Policy::learned)
class input_quantizer<Policy> {
  static constexpr float max_code = float(Policy::max_code);

 public:
  parameter learned{1, parameter_role::step};              // the step (LSQ) or α (PACT)
  xt::xtensor<float, 1> state = xt::zeros<float>({2});  // {zero point, 1 once started}

  void reset() {
    state.fill(0.0f);
    learned.value(0) = 1.0f;
  }
  bool started() const { return state(1) != 0.0f; }

  kernels::code_grid grid() const {
    const float v = std::max(learned.value(0), min_value);
    return {Policy::learns_clip ? v / (max_code - state(0)) : v, state(0), max_code};
  }

  // The first training batch starts the grid; returns the centred codes of x.
  const activation& encode(const activation& x, const context& ctx) {
    if (ctx.training() && !started()) start(x);
    codes_.resize(x.shape());
    kernels::centered_codes(x.data(), codes_.data(), x.size(), grid());
    return codes_;
  }
  const activation& codes() const { return codes_; }

  // dx holds dL/d(dequantized x): first the parameter's gradient from it,
  // then dx zeroed where x was clamped.
  // - LSQ: Esser et al.'s, scaled by 1/sqrt(features · Qp); dx zeroed where
  //   the code saturates, as for any uniform grid.
  // - PACT clips before it rounds: where x is at or above α, x̂ = α, so
  //   dx̂/dα = 1 and dx̂/dx = 0; at or below the bottom, x̂ = −Qn·α/Qp, so
  //   dx̂/dα = −Qn/Qp; inside, rounding passes straight through (dx̂/dα = 0).
  void mask_gradient(const activation& x, activation& dx) {
    const kernels::code_grid g = grid();
    const float qn = g.zero, qp = max_code - g.zero;
    if constexpr (Policy::learns_clip) {
      learned.grad(0) = float(kernels::clip_level_sum(x.data(), dx.data(), x.size(), g.step, qn, qp));
    } else {
      const double features = double(x.size() / std::max<std::size_t>(x.shape(0), 1));
      learned.grad(0) =
          float(kernels::learned_step_sum(x.data(), dx.data(), x.size(), g.step, qn, qp) / std::sqrt(features * qp));
      kernels::mask_outside_grid(x.data(), dx.data(), x.size(), g);
    }
  }

  void post_step() { learned.value(0) = std::max(learned.value(0), min_value); }

  template <class F>
  void visit_parameters(F&& f) {
    f(learned);
  }
  template <class F>
  void visit_buffers(F&& f) {
    f(state);
  }

 private:
  static constexpr float min_value = 1e-8f;

  // Unsigned codes (zero point 0) for inputs that are never negative, as
  // after a ReLU; otherwise the zero point in the middle. LSQ starts the
  // step at 2·mean|x|/√Qp, PACT α at max|x|.
  void start(const activation& x) {
    const auto [lo, hi] = kernels::min_max(x.data(), x.size());
    const float zero = lo < 0.0f ? float(1 << (Policy::width - 1)) : 0.0f;
    float v;
    if constexpr (Policy::learns_clip) {
      v = std::max(-lo, hi);
    } else {
      double sum = 0;
      for (float e : x) sum += std::fabs(e);
      const float mean = x.size() ? float(sum / double(x.size())) : 0.0f;
      v = 2.0f * mean / std::sqrt(max_code - zero);
    }
    learned.value(0) = v > 0.0f ? v : 1.0f;
    state(0) = zero;
    state(1) = 1.0f;
  }

  activation codes_;
};

template <int N, class E>
class input_quantizer<power_of_two_activations<N, E>> {
  using policy = power_of_two_activations<N, E>;

 public:
  // {moving average of max|x|, 1 when the first batch had negative inputs}
  xt::xtensor<float, 1> state = xt::zeros<float>({2});

  void reset() { state.fill(0.0f); }
  bool is_signed() const { return state(1) != 0.0f; }
  float top_level() const {
    return float(is_signed() ? policy::signed_levels::qmax : policy::unsigned_levels::qmax);
  }

  // Zero point 0; the step puts the top level at the moving max|x|.
  kernels::code_grid grid() const {
    const float top = top_level();
    return {state(0) > 0.0f ? state(0) / top : 1.0f, 0.0f, top};
  }

  // In training, folds the batch's max|x| into the average first. Returns
  // the levels of x / step: the soft staircase's in training (E soft), the
  // nearest otherwise.
  const activation& encode(const activation& x, const context& ctx) {
    if (ctx.training()) observe(x);
    soft_ = E::soft && ctx.training();
    codes_.resize(x.shape());
    if (soft_) slopes_.resize(x.shape());
    float kappa = 0.0f;
    if constexpr (E::soft)
      if (soft_) kappa = 1.0f / E::temperature(ctx.progress);
    const float step = grid().step;
    float* slopes = soft_ ? slopes_.data() : nullptr;
    if (is_signed())
      levels<typename policy::signed_levels, true>(x.data(), codes_.data(), slopes, x.size(), step, kappa);
    else
      levels<typename policy::unsigned_levels, false>(x.data(), codes_.data(), slopes, x.size(), step, kappa);
    return codes_;
  }
  const activation& codes() const { return codes_; }

  // dL/dx from dL/d(dequantized x): times the soft staircase's slope kept
  // by the forward, or (rounded) zero past the top level.
  void mask_gradient(const activation& x, activation& dx) const {
    if (soft_) {
      kernels::for_chunks(x.size(), [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) dx.data()[i] *= slopes_.data()[i];
      });
      return;
    }
    const float step = grid().step, top = top_level(), bottom = is_signed() ? -top : 0.0f;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float v = x.data()[i] / step;
      if (v < bottom || v > top) dx.data()[i] = 0.0f;
    }
  }

  // out[i] = the level of x[i] / step: the soft staircase φ at sharpness
  // kappa > 0 with slope[i] = φ', else the nearest level. Unsigned levels
  // take a negative input to 0, with slope 0.
  template <class Levels, bool Signed>
  static void levels(const float* x, float* out, float* slope, std::size_t n, float step, float kappa) {
    kernels::for_chunks(n, [&](std::size_t b, std::size_t e) {
      if (kappa > 0.0f) {
        soft_quantize_n<Levels, !Signed>(x + b, e - b, step, kappa, 1.0f, out + b, slope + b);
        return;
      }
      for (std::size_t i = b; i < e; ++i) {
        const float v = Signed ? x[i] / step : std::fmax(x[i] / step, 0.0f);
        out[i] = std::copysign(nearest_level<Levels>(std::fabs(v)), v);
      }
    });
  }

  template <class F>
  void visit_buffers(F&& f) {
    f(state);
  }

 private:
  void observe(const activation& x) {
    const auto [lo, hi] = kernels::min_max(x.data(), x.size());
    const float largest = std::max(-lo, hi);
    if (state(0) == 0.0f) {
      state(0) = largest;
      state(1) = lo < 0.0f ? 1.0f : 0.0f;
    } else {
      state(0) += policy::ema_rate * (largest - state(0));
    }
  }

  activation codes_, slopes_;
  bool soft_ = false;  // whether the last encode was soft (slopes_ holds its slopes)
};

// Nothing to hold for float activations.
template <>
class input_quantizer<float_activations> {
 public:
  template <class F>
  void visit_buffers(F&&) {}
};

}  // namespace nibble
