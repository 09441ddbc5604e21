#pragma once
// deploy::channel_affine<Relu>
//
// Represents: a batch norm that had no conv2d or linear before it to fold
// into, in eval mode: y = multiplier_c · x + offset_c (then ReLU).
// Requires: any shape. Ensures: the same shape.
#include <string>

#include "nibble/deploy/weight_matrix.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble::deploy {

template <class In, bool Relu>
class channel_affine_layer {
 public:
  using input_shape = In;
  using output_shape = In;
  static constexpr std::size_t parameter_count = 2 * In::channels;
  static std::string describe() { return std::string("per-channel affine (batch norm)") + (Relu ? ", relu" : ""); }

  channel_epilogue<In::channels, Relu> epilogue;

  template <class Norm>
  void fold_from(const Norm& norm) {
    for (std::size_t c = 0; c < In::channels; ++c) {
      const auto [a, b] = norm.eval_affine(c);
      epilogue.multiplier[c] = a;
      epilogue.offset[c] = b;
    }
  }
  void forward(const activation& x, activation& y, context&) {
    epilogue.apply(x.shape(0), In::height * In::width, x.data(), y.data());
  }
  template <class F>
  void visit_tensors(F&& f) {
    epilogue.visit_tensors(f);
  }
  std::string fault() const { return epilogue.fault(); }
};

template <bool Relu>
struct channel_affine {
  template <class In>
  static constexpr bool accepts = true;
  template <class In>
  using bind = channel_affine_layer<In, Relu>;
};

}  // namespace nibble::deploy
