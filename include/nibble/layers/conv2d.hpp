#pragma once
// conv2d<Out, Kernel, Scheme, Stride = 1, Padding = Kernel / 2, Init = paper_init>
//
// Represents: a 2-D convolution with Out filters of size Kernel×Kernel over
// all input channels, plus a per-filter bias. Its weights are fake-quantized
// by Scheme on every forward pass; float master weights are kept. Kernel
// and Padding are one number or kernels::window{height, width} (DS-CNN's
// first layer: conv2d<64, window{10, 4}, S, 2, window{5, 1}>); non-square
// kernels run on the im2col kernels.
// Requires: a spatial input C×H×W with H + 2·Padding >= Kernel (and W alike).
// Ensures: output Out × ((H + 2P − K)/S + 1) × ((W + 2P − K)/S + 1); the
// weight gradient is the Scheme's estimator applied to dL/dWq. When Scheme
// quantizes activations the input is quantized too (input_quantizer) and
// the product runs on codes (quantized_weight_matrix); dL/dx is the
// straight-through gradient, zero where the input codes saturate. Init
// (layers/init.hpp) draws the initial weights.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "nibble/kernels/conv.hpp"
#include "nibble/layers/init.hpp"
#include "nibble/layers/layer.hpp"
#include "nibble/layers/quantized_weight_matrix.hpp"
#include "nibble/quant/scheme.hpp"

namespace nibble {

using kernels::window;

template <class In, std::size_t Out, kernels::window Kernel, class Scheme, std::size_t Stride,
          kernels::window Padding, class Init = paper_init>
class conv2d_layer : public quantized_weight_matrix<Scheme, Out, In::channels * Kernel.area()> {
  static_assert(!In::is_flat,
                "nibble::conv2d: its input is a flat vector (after flatten or global_avg_pool), but a "
                "convolution needs channels x height x width.");
  static_assert(In::height + 2 * Padding.height >= Kernel.height && In::width + 2 * Padding.width >= Kernel.width,
                "nibble::conv2d: the kernel is larger than the padded input image.");

 public:
  using input_shape = In;
  static constexpr kernels::conv_geometry geometry{In::channels,   In::height, In::width,     Kernel.height,
                                                   Stride,         Padding.height, Kernel.width, Padding.width};
  using output_shape = shape<Out, geometry.out_height(), geometry.out_width()>;
  static constexpr std::size_t fan_in = In::channels * Kernel.area();
  static constexpr std::size_t pixels = output_shape::height * output_shape::width;

  static std::string describe() {
    return "conv2d " + std::to_string(Out) + " filters " + std::to_string(Kernel.height) + "x" +
           std::to_string(Kernel.width) + ", stride " + std::to_string(Stride) + ", padding " + Padding.text() +
           "; weights " + Scheme::describe() + Init::describe();
  }

  // The paper's: He initialisation N(0, 2/fan_in), zero bias.
  void init(std::mt19937_64& rng) { Init::apply(*this, rng, fan_in, 2.0f); }

  // Which kernels run this layer on this machine (kernels/plan.hpp).
  static std::string kernels_used() { return kernels::describe(kernels::plan_conv(geometry, Out, bf16)); }

  void forward(const activation& x, activation& y, context& ctx) {
    this->quantize_weights(ctx);
    if constexpr (Scheme::quantizes_activations) {
      const activation& codes = this->inputs.encode(x, ctx);
      kernels::conv_forward(geometry, Out, x.shape(0), codes.data(), this->weight_codes().data(), nullptr, y.data(),
                            forward_workspace_);
      this->scale_integer_sums(y.data(), x.shape(0), pixels, this->inputs.grid().step);
    } else {
      kernels::conv_forward(geometry, Out, x.shape(0), x.data(), this->quantized(), this->bias.value.data(), y.data(),
                            forward_workspace_);
    }
  }

  void backward(const activation& x, const activation&, const activation& dy, activation* dx, context&) {
    if constexpr (Scheme::quantizes_activations) {
      // The product's input was step_x · codes: dW = step_x · (dy ⋆ codes).
      activation* din = this->input_gradient_target(dx, x);
      kernels::conv_backward(geometry, Out, x.shape(0), this->inputs.codes().data(), this->quantized(), dy.data(),
                             this->weight.grad.data(), this->bias.grad.data(), din ? din->data() : nullptr, workspace_);
      kernels::scale(this->weight.grad.data(), this->weight_count, this->inputs.grid().step);
      if (din) this->inputs.mask_gradient(x, *din);
    } else {
      kernels::conv_backward(geometry, Out, x.shape(0), x.data(), this->quantized(), dy.data(),
                             this->weight.grad.data(), this->bias.grad.data(), dx ? dx->data() : nullptr, workspace_);
    }
    this->apply_estimator();
  }

 private:
  static constexpr bool bf16 = Scheme::arithmetic::bf16;
  kernels::conv_workspace<bf16> workspace_;
  kernels::conv_forward_workspace<bf16> forward_workspace_;
};

template <std::size_t Out, kernels::window Kernel, quant_scheme Scheme, std::size_t Stride = 1,
          // window(Kernel): GCC 12 substitutes a default before converting the
          // argument before it, so Kernel may still be the size_t given.
          kernels::window Padding = kernels::window(Kernel).half(), class Init = paper_init>
struct conv2d {
  static_assert(Out > 0 && Kernel.height > 0 && Kernel.width > 0 && Stride > 0,
                "nibble::conv2d: sizes and stride must be positive.");
  template <class In>
  static constexpr bool accepts = !In::is_flat && In::height + 2 * Padding.height >= Kernel.height &&
                                  In::width + 2 * Padding.width >= Kernel.width;
  template <class In>
  using bind = conv2d_layer<In, Out, Kernel, Scheme, Stride, Padding, Init>;
};

}  // namespace nibble
