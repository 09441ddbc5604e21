#pragma once
// deploy::depthwise_conv2d<Kernel, Bits, Arithmetic, Stride, Padding, Options...>
//
// Represents: the inference form of a nibble::depthwise_conv2d whose scheme
// keeps its inputs float: one Kernel×Kernel filter of weight codes per
// channel, the scale, bias and a following batch norm folded into a
// per-channel epilogue (weight_matrix.hpp), ReLU when folded (with_relu).
// Requires: the input shape the trained layer had.
// Ensures: the trained layer's output (and its batch norm's, when folded)
// up to float rounding: the codes are decoded to floats for the same fp32
// loops the trained layer runs (kernels/depthwise_conv.hpp).
#include <string>

#include "nibble/deploy/options.hpp"
#include "nibble/deploy/rule.hpp"
#include "nibble/deploy/table_row.hpp"
#include "nibble/deploy/weight_matrix.hpp"
#include "nibble/kernels/depthwise_conv.hpp"
#include "nibble/layers/depthwise_conv2d.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble::deploy {

template <class In, std::size_t Kernel, class Bits, class Arithmetic, std::size_t Stride, std::size_t Padding,
          class... Options>
class depthwise_conv2d_layer
    : public weight_matrix<Bits, Arithmetic, In::channels, Kernel * Kernel, has_option<with_relu, Options...>> {
  static constexpr bool Relu = has_option<with_relu, Options...>;

 public:
  using input_shape = In;
  static constexpr kernels::conv_geometry geometry{In::channels, In::height, In::width, Kernel, Stride, Padding};
  using output_shape = shape<In::channels, geometry.out_height(), geometry.out_width()>;

  static std::string describe() {
    return "depthwise conv2d " + std::to_string(Kernel) + "x" + std::to_string(Kernel) + ", stride " +
           std::to_string(Stride) + ", padding " + std::to_string(Padding) + "; " + Bits::describe() +
           " weight codes, fp32 products, per-channel epilogue" + (Relu ? ", relu" : "");
  }

  void forward(const activation& x, activation& y, context&) {
    const std::size_t batch = x.shape(0);
    kernels::depthwise_forward(geometry, batch, x.data(), this->decoded_weights(), nullptr, y.data());
    this->epilogue.apply(batch, output_shape::height * output_shape::width, y.data(), y.data());
  }

  // Its row of a layer table (quantized weights only: float ones have none).
  deploy::table_row table_row() const
    requires Bits::quantized
  {
    return {.kind = layer_kind::depthwise, .kernel = Kernel, .stride = Stride, .pad = Padding, .relu = Relu,
            .weight_bits = Bits::width <= 4 ? 4 : 8, .codes = this->codes.storage(),
            .floats = {this->epilogue.multiplier, this->epilogue.offset}};
  }
};

template <std::size_t Kernel, class Bits, class Arithmetic, std::size_t Stride, std::size_t Padding, class... Options>
struct depthwise_conv2d {
  template <class In>
  static constexpr bool accepts =
      !In::is_flat && In::height + 2 * Padding >= Kernel && In::width + 2 * Padding >= Kernel;
  template <class In>
  using bind = depthwise_conv2d_layer<In, Kernel, Bits, Arithmetic, Stride, Padding, Options...>;
  template <class Tag>
  using with = depthwise_conv2d<Kernel, Bits, Arithmetic, Stride, Padding, Options..., Tag>;
};

// A trained depthwise_conv2d with float inputs, and the batch norm after it if any.
template <std::size_t K, class S, std::size_t St, std::size_t P, class I, class Next>
  requires(!S::quantizes_activations)
struct rule<nibble::depthwise_conv2d<K, S, St, P, I>, Next> : weighted_rule<Next> {
  using spec = add_option_if<weighted_rule<Next>::relu,
                             deploy::depthwise_conv2d<K, typename S::bit_width, typename S::arithmetic, St, P>,
                             with_relu>;
};

}  // namespace nibble::deploy
