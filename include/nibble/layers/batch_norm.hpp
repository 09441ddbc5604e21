#pragma once
// batch_norm
//
// Represents: batch normalisation per channel, y = γ·(x − μ)/√(σ² + ε) + β.
// On a spatial input it is BatchNorm2d (statistics over batch, height and
// width); on a flat input shape<F,1,1> it is BatchNorm1d.
// Requires: any input shape.
// Ensures: output shape = input shape. In train mode it normalises with the
// batch statistics and updates running mean and (unbiased) variance with
// momentum 0.1; in eval mode it uses the running statistics. γ, β stay float.
// Without a learned scale (LearnedScale = false, spec shift_batch_norm) γ
// stays 1 and only β trains, as in the fastest CIFAR-10 recipes: the next
// layer's weights can take any scale the channel needs.
#include <cmath>
#include <utility>
#include <vector>

#include "nibble/kernels/batch_norm.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble {

template <class In, bool Relu = false, bool LearnedScale = true>
class batch_norm_layer {
 public:
  using input_shape = In;
  using output_shape = In;
  static constexpr std::size_t channels = In::channels;
  static constexpr std::size_t parameter_count = (LearnedScale ? 2 : 1) * channels;
  static constexpr float epsilon = 1e-5f;
  static constexpr float momentum = 0.1f;

  static std::string describe() {
    return std::string(LearnedScale ? "" : "shift_") + (Relu ? "batch_norm_relu" : "batch_norm");
  }

  parameter gamma{channels, parameter_role::norm};
  parameter beta{channels, parameter_role::norm};
  xt::xtensor<float, 1> running_mean = xt::zeros<float>({channels});
  xt::xtensor<float, 1> running_var = xt::ones<float>({channels});

  void init(std::mt19937_64&) {
    gamma.value.fill(1.0f);
    beta.value.fill(0.0f);
    running_mean.fill(0.0f);
    running_var.fill(1.0f);
  }

  void forward(const activation& x, activation& y, context& ctx) {
    const kernels::bn_geometry g{x.shape(0), channels, In::height * In::width};
    if (ctx.training()) {
      kernels::bn_batch_statistics(g, x.data(), mean_.data(), inv_std_.data(), epsilon);
      kernels::bn_update_running(g, mean_.data(), inv_std_.data(), epsilon, momentum, running_mean.data(),
                                 running_var.data());
      kernels::bn_normalise<Relu>(g, x.data(), mean_.data(), inv_std_.data(), gamma.value.data(),
                                  beta.value.data(), y.data());
    } else {
      for (std::size_t c = 0; c < channels; ++c) {
        mean_[c] = running_mean(c);
        inv_std_[c] = 1.0f / std::sqrt(running_var(c) + epsilon);
      }
      // Through eval_affine, whose coefficients deployment folds: the
      // deployed network repeats this pass exactly.
      kernels::channel_affine<Relu>({g.batch, g.channels, g.pixels}, [&](std::size_t c) { return eval_affine(c); },
                                    x.data(), y.data());
    }
    trained_ = ctx.training();
  }

  // Channel c in eval mode as y = a·x + b, computed as forward computes it
  // (and as the shared channel_affine kernel applies it); deployment folds
  // it into the layer before.
  std::pair<float, float> eval_affine(std::size_t c) const {
    const float inv_std = 1.0f / std::sqrt(running_var(c) + epsilon);
    const float a = gamma.value(c) * inv_std;
    return {a, beta.value(c) - a * running_mean(c)};
  }

  void backward(const activation& x, const activation& y, const activation& dy, activation* dx, context&) {
    const kernels::bn_geometry g{x.shape(0), channels, In::height * In::width};
    kernels::bn_backward<Relu>(g, x.data(), y.data(), dy.data(), mean_.data(), inv_std_.data(), gamma.value.data(), gamma.grad.data(),
                         beta.grad.data(), dx ? dx->data() : nullptr, trained_);
  }

  template <class F>
  void visit_parameters(F&& f) {
    if constexpr (LearnedScale) f(gamma);
    f(beta);
  }
  template <class F>
  void visit_buffers(F&& f) {
    f(running_mean);
    f(running_var);
  }
  void post_step() {}

 private:
  std::vector<float> mean_ = std::vector<float>(channels);
  std::vector<float> inv_std_ = std::vector<float>(channels);
  bool trained_ = true;
};

struct batch_norm {
  template <class In>
  static constexpr bool accepts = true;
  template <class In>
  using bind = batch_norm_layer<In>;
};

// batch_norm_relu — Represents: batch_norm followed by relu, computed in one
// pass over memory each way (and without keeping the intermediate tensor).
// Same parameters, statistics and results as `batch_norm, relu`.
struct batch_norm_relu {
  template <class In>
  static constexpr bool accepts = true;
  template <class In>
  using bind = batch_norm_layer<In, true>;
};

// shift_batch_norm — Represents: batch_norm with γ fixed at 1 (only the
// shift β is a parameter).
struct shift_batch_norm {
  template <class In>
  static constexpr bool accepts = true;
  template <class In>
  using bind = batch_norm_layer<In, false, false>;
};

}  // namespace nibble
