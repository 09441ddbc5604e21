#pragma once
// deploy::linear<Out, Bits, Arithmetic, Options...>
//
// Represents: the inference form of a nibble::linear whose scheme keeps its
// inputs float — Out rows of weight codes and a per-output epilogue into
// which the scale, the bias and a following batch norm are folded
// (weight_matrix.hpp), ReLU when folded (with_relu).
// Requires: a flat input, as the trained layer. Ensures: shape<Out, 1, 1>,
// the trained output up to float rounding. Its products are fp32 whatever
// the scheme's arithmetic, as in training; Arithmetic only names the scheme.
#include <string>

#include "nibble/deploy/options.hpp"
#include "nibble/deploy/rule.hpp"
#include "nibble/deploy/table_row.hpp"
#include "nibble/deploy/weight_matrix.hpp"
#include "nibble/kernels/gemm.hpp"
#include "nibble/layers/layer.hpp"
#include "nibble/layers/linear.hpp"

namespace nibble::deploy {

template <class In, std::size_t Out, class Bits, class Arithmetic, class... Options>
class linear_layer : public weight_matrix<Bits, Arithmetic, Out, In::size, has_option<with_relu, Options...>> {
  static constexpr bool Relu = has_option<with_relu, Options...>;

 public:
  using input_shape = In;
  using output_shape = shape<Out, 1, 1>;

  static std::string describe() {
    return "linear " + std::to_string(Out) + " outputs; " + Bits::describe() + " weight codes, per-output epilogue" +
           (Relu ? ", relu" : "");
  }

  void forward(const activation& x, activation& y, context&) {
    const std::size_t batch = x.shape(0);
    kernels::gemm(batch, Out, In::size, kernels::row_major(x.data(), In::size),
                  kernels::transposed(this->decoded_weights(), In::size), y.data(), Out, false);
    // Each sample is one "image" of Out channels and one pixel.
    this->epilogue.apply(batch, 1, y.data(), y.data());
  }

  // Its row of a layer table (quantized weights only: float ones have none).
  deploy::table_row table_row() const
    requires Bits::quantized
  {
    return {.kind = layer_kind::linear, .relu = Relu, .weight_bits = Bits::width <= 4 ? 4 : 8,
            .codes = this->codes.storage(), .floats = {this->epilogue.multiplier, this->epilogue.offset}};
  }
};

template <std::size_t Out, class Bits, class Arithmetic, class... Options>
struct linear {
  template <class In>
  static constexpr bool accepts = In::is_flat;
  template <class In>
  using bind = linear_layer<In, Out, Bits, Arithmetic, Options...>;
  template <class Tag>
  using with = linear<Out, Bits, Arithmetic, Options..., Tag>;
};

// A trained linear with float inputs, and the batch norm after it if any.
template <std::size_t Out, class S, class I, class Next>
  requires(!S::quantizes_activations)
struct rule<nibble::linear<Out, S, I>, Next> : weighted_rule<Next> {
  using spec = add_option_if<weighted_rule<Next>::relu,
                             deploy::linear<Out, typename S::bit_width, typename S::arithmetic>, with_relu>;
};

}  // namespace nibble::deploy
