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
// learned_activation_bits<N> (LSQ) instead trains the grid's step: a
// parameter of the layer, with a buffer {zero point, started} that the first
// training batch sets.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "nibble/core/parameter.hpp"
#include "nibble/core/shape.hpp"
#include "nibble/kernels/activation_codes.hpp"
#include "nibble/quant/activations.hpp"
#include "nibble/quant/learned_step.hpp"

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
  const activation& encode(const activation& x, bool training) {
    if (training) observe(x.data(), x.size());
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

template <int N>
class input_quantizer<learned_activation_bits<N>> {
  static constexpr float max_code = float(learned_activation_bits<N>::max_code);

 public:
  parameter step{1, parameter_role::step};
  xt::xtensor<float, 1> state = xt::zeros<float>({2});  // {zero point, 1 once started}

  void reset() {
    state.fill(0.0f);
    step.value(0) = 1.0f;
  }
  bool started() const { return state(1) != 0.0f; }

  kernels::code_grid grid() const { return {std::max(step.value(0), min_step), state(0), max_code}; }

  // The first training batch starts the grid; returns the centred codes of x.
  const activation& encode(const activation& x, bool training) {
    if (training && !started()) start(x);
    codes_.resize(x.shape());
    kernels::centered_codes(x.data(), codes_.data(), x.size(), grid());
    return codes_;
  }
  const activation& codes() const { return codes_; }

  // dx holds dL/d(dequantized x): first the step's gradient from it (Esser
  // et al., scaled by 1/sqrt(features · Qp)), then dx zeroed where x was
  // clamped.
  void mask_gradient(const activation& x, activation& dx) {
    const kernels::code_grid g = grid();
    const float qn = g.zero, qp = max_code - g.zero;
    const double features = double(x.size() / std::max<std::size_t>(x.shape(0), 1));
    step.grad(0) = float(learned_step_sum(x.data(), dx.data(), x.size(), g.step, qn, qp) / std::sqrt(features * qp));
    kernels::mask_outside_grid(x.data(), dx.data(), x.size(), g);
  }

  void post_step() { step.value(0) = std::max(step.value(0), min_step); }

  template <class F>
  void visit_parameters(F&& f) {
    f(step);
  }
  template <class F>
  void visit_buffers(F&& f) {
    f(state);
  }

 private:
  static constexpr float min_step = 1e-8f;

  // Unsigned codes (zero point 0) for inputs that are never negative, as
  // after a ReLU; otherwise the zero point in the middle. Step 2·mean|x|/√Qp.
  void start(const activation& x) {
    const auto [lo, hi] = kernels::min_max(x.data(), x.size());
    const float zero = lo < 0.0f ? float(1 << (N - 1)) : 0.0f;
    double sum = 0;
    for (float v : x) sum += std::fabs(v);
    const float mean = x.size() ? float(sum / double(x.size())) : 0.0f;
    const float s = 2.0f * mean / std::sqrt(max_code - zero);
    step.value(0) = s > 0.0f ? s : 1.0f;
    state(0) = zero;
    state(1) = 1.0f;
  }

  activation codes_;
};

// Nothing to hold for float activations.
template <>
class input_quantizer<float_activations> {
 public:
  template <class F>
  void visit_buffers(F&&) {}
};

}  // namespace nibble
