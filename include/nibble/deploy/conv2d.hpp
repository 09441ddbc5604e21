#pragma once
// deploy::conv2d<Out, Kernel, Bits, Arithmetic, Stride, Padding, Options...>
//
// Represents: the inference form of a nibble::conv2d whose scheme keeps its
// inputs float — Out filters of Kernel×Kernel weight codes, the scale, bias
// and a following batch norm folded into a per-channel epilogue
// (weight_matrix.hpp), ReLU when folded (with_relu).
// Requires: the input shape the trained layer had.
// Ensures: the trained layer's output (and its batch norm's, when folded)
// up to float rounding. Codes are decoded to floats for the float kernels,
// so the products are those of the trained arithmetic (fp32 or bf16: codes
// of up to 8 bits are exact in either).
#include <string>

#include "nibble/deploy/options.hpp"
#include "nibble/deploy/rule.hpp"
#include "nibble/deploy/table_row.hpp"
#include "nibble/deploy/weight_matrix.hpp"
#include "nibble/kernels/conv.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble::deploy {

template <class In, std::size_t Out, window Kernel, class Bits, class Arithmetic, std::size_t Stride,
          window Padding, class... Options>
class conv2d_layer
    : public weight_matrix<Bits, Arithmetic, Out, In::channels * Kernel.area(), has_option<with_relu, Options...>> {
  static constexpr bool Relu = has_option<with_relu, Options...>;

 public:
  using input_shape = In;
  static constexpr kernels::conv_geometry geometry{In::channels, In::height,     In::width,    Kernel.height,
                                                   Stride,       Padding.height, Kernel.width, Padding.width};
  using output_shape = shape<Out, geometry.out_height(), geometry.out_width()>;

  static std::string describe() {
    return "conv2d " + std::to_string(Out) + " filters " + std::to_string(Kernel.height) + "x" +
           std::to_string(Kernel.width) + ", stride " + std::to_string(Stride) + ", padding " + Padding.text() +
           "; " + Bits::describe() + " weight codes, " + Arithmetic::describe() + " products, per-channel epilogue" +
           (Relu ? ", relu" : "");
  }

  void forward(const activation& x, activation& y, context&) {
    const std::size_t batch = x.shape(0);
    kernels::conv_forward(geometry, Out, batch, x.data(), this->decoded_weights(), nullptr, y.data(), workspace_);
    this->epilogue.apply(batch, output_shape::height * output_shape::width, y.data(), y.data());
  }

  // Its row of a layer table (quantized weights only: float ones have none).
  deploy::table_row table_row() const
    requires Bits::quantized
  {
    return {.kind = layer_kind::conv, .kernel = Kernel.height, .kernel_width = Kernel.width, .stride = Stride,
            .pad = Padding.height, .pad_width = Padding.width, .relu = Relu,
            .weight_bits = Bits::width <= 4 ? 4 : 8, .codes = this->codes.storage(),
            .floats = {this->epilogue.multiplier, this->epilogue.offset}};
  }

 private:
  kernels::conv_forward_workspace<Arithmetic::bf16> workspace_;
};

template <std::size_t Out, window Kernel, class Bits, class Arithmetic, std::size_t Stride, window Padding,
          class... Options>
struct conv2d {
  template <class In>
  static constexpr bool accepts = !In::is_flat && In::height + 2 * Padding.height >= Kernel.height &&
                                  In::width + 2 * Padding.width >= Kernel.width;
  template <class In>
  using bind = conv2d_layer<In, Out, Kernel, Bits, Arithmetic, Stride, Padding, Options...>;
  template <class Tag>
  using with = conv2d<Out, Kernel, Bits, Arithmetic, Stride, Padding, Options..., Tag>;
};

// A trained conv2d with float inputs, and the batch norm after it if any.
template <std::size_t Out, window K, class S, std::size_t St, window P, class I, class Next>
  requires(!S::quantizes_activations)
struct rule<nibble::conv2d<Out, K, S, St, P, I>, Next> : weighted_rule<Next> {
  using spec = add_option_if<weighted_rule<Next>::relu,
                             deploy::conv2d<Out, K, typename S::bit_width, typename S::arithmetic, St, P>, with_relu>;
};

}  // namespace nibble::deploy
