#pragma once
// deploy::linear<Out, Bits, Relu>
//
// Represents: the inference form of nibble::linear — Out rows of weight
// codes and a per-output epilogue into which the scale, the bias and a
// following batch norm are folded (weight_matrix.hpp), ReLU when folded.
// Requires: a flat input, as the trained layer. Ensures: shape<Out, 1, 1>,
// the trained output up to float rounding. Its products are fp32 whatever
// the scheme's arithmetic, as in training; Arithmetic only names the scheme.
#include <string>

#include "nibble/deploy/weight_matrix.hpp"
#include "nibble/kernels/gemm.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble::deploy {

template <class In, std::size_t Out, class Bits, class Arithmetic, bool Relu>
class linear_layer : public weight_matrix<Bits, Arithmetic, Out, In::size, Relu> {
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
};

template <std::size_t Out, class Bits, class Arithmetic, bool Relu>
struct linear {
  template <class In>
  static constexpr bool accepts = In::is_flat;
  template <class In>
  using bind = linear_layer<In, Out, Bits, Arithmetic, Relu>;
};

}  // namespace nibble::deploy
