#pragma once
// depthwise_conv2d<Kernel, Scheme, Stride = 1, Padding = Kernel / 2, Init = paper_init>
//
// Represents: a depthwise convolution (groups = channels): each of the C
// input channels convolved with a Kernel×Kernel filter of its own, plus a
// bias per channel — the first half of a depthwise-separable block, whose
// second half is a 1×1 conv2d. Its weights are fake-quantized by Scheme on
// every forward pass (a per-channel scheme scales each filter); float master
// weights are kept.
// Requires: a spatial input C×H×W with H + 2·Padding >= Kernel (and W alike).
// Ensures: output C × ((H + 2P − K)/S + 1) × ((W + 2P − K)/S + 1); the
// weight gradient is the Scheme's estimator applied to dL/dWq. When Scheme
// quantizes activations the input is quantized (input_quantizer), the
// product runs on codes and the sums are exact integers (K² terms each);
// dL/dx is the straight-through gradient, zero where the input codes
// saturate. The products run in fp32 whatever the scheme's arithmetic:
// K² multiply-adds per output value are a few percent of a network's work.
#include <random>
#include <string>

#include "nibble/kernels/depthwise_conv.hpp"
#include "nibble/kernels/elementwise.hpp"
#include "nibble/layers/init.hpp"
#include "nibble/layers/layer.hpp"
#include "nibble/layers/quantized_weight_matrix.hpp"
#include "nibble/quant/scheme.hpp"

namespace nibble {

template <class In, std::size_t Kernel, class Scheme, std::size_t Stride, std::size_t Padding, class Init = paper_init>
class depthwise_conv2d_layer : public quantized_weight_matrix<Scheme, In::channels, Kernel * Kernel> {
  static_assert(!In::is_flat,
                "nibble::depthwise_conv2d: its input is a flat vector (after flatten or global_avg_pool), but a "
                "convolution needs channels x height x width.");
  static_assert(In::height + 2 * Padding >= Kernel && In::width + 2 * Padding >= Kernel,
                "nibble::depthwise_conv2d: the kernel is larger than the padded input image.");

 public:
  using input_shape = In;
  static constexpr kernels::conv_geometry geometry{In::channels, In::height, In::width, Kernel, Stride, Padding};
  using output_shape = shape<In::channels, geometry.out_height(), geometry.out_width()>;
  static constexpr std::size_t fan_in = Kernel * Kernel;
  static constexpr std::size_t pixels = output_shape::height * output_shape::width;
  static constexpr bool depthwise = true;

  static std::string describe() {
    return "depthwise conv2d " + std::to_string(Kernel) + "x" + std::to_string(Kernel) + ", stride " +
           std::to_string(Stride) + ", padding " + std::to_string(Padding) + "; weights " + Scheme::describe() +
           Init::describe();
  }

  // He initialisation over the filter's own K² inputs (PyTorch's fan-in for groups = channels).
  void init(std::mt19937_64& rng) { Init::apply(*this, rng, fan_in, 2.0f); }

  static std::string kernels_used() { return "depthwise loops (fp32)"; }

  void forward(const activation& x, activation& y, context& ctx) {
    this->quantize_weights(ctx);
    if constexpr (Scheme::quantizes_activations) {
      const activation& codes = this->inputs.encode(x, ctx);
      kernels::depthwise_forward(geometry, x.shape(0), codes.data(), this->weight_codes().data(), nullptr, y.data());
      this->scale_integer_sums(y.data(), x.shape(0), pixels, this->inputs.grid().step);
    } else {
      kernels::depthwise_forward(geometry, x.shape(0), x.data(), this->quantized(), this->bias.value.data(),
                                 y.data());
    }
  }

  void backward(const activation& x, const activation&, const activation& dy, activation* dx, context&) {
    if constexpr (Scheme::quantizes_activations) {
      // The product's input was step_x · codes: dW = step_x · (dy ⋆ codes).
      activation* din = this->input_gradient_target(dx, x);
      kernels::depthwise_backward(geometry, x.shape(0), this->inputs.codes().data(), this->quantized(), dy.data(),
                                  this->weight.grad.data(), this->bias.grad.data(), din ? din->data() : nullptr);
      kernels::scale(this->weight.grad.data(), this->weight_count, this->inputs.grid().step);
      if (din) this->inputs.mask_gradient(x, *din);
    } else {
      kernels::depthwise_backward(geometry, x.shape(0), x.data(), this->quantized(), dy.data(),
                                  this->weight.grad.data(), this->bias.grad.data(), dx ? dx->data() : nullptr);
    }
    this->apply_estimator();
  }
};

template <std::size_t Kernel, quant_scheme Scheme, std::size_t Stride = 1, std::size_t Padding = Kernel / 2,
          class Init = paper_init>
struct depthwise_conv2d {
  static_assert(Kernel > 0 && Stride > 0, "nibble::depthwise_conv2d: the kernel and stride must be positive.");
  template <class In>
  static constexpr bool accepts =
      !In::is_flat && In::height + 2 * Padding >= Kernel && In::width + 2 * Padding >= Kernel;
  template <class In>
  using bind = depthwise_conv2d_layer<In, Kernel, Scheme, Stride, Padding, Init>;
};

}  // namespace nibble
