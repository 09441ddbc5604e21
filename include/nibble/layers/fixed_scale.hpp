#pragma once
// fixed_scale<Numerator, Denominator> — Represents: y = x · N/D, a constant
// factor, as the fastest CIFAR-10 recipes put on their logits (airbench:
// 1/9), so that the softmax starts soft whatever the classifier's scale.
// Requires: any shape. Ensures: same shape.
#include <string>

#include "nibble/layers/layer.hpp"

namespace nibble {

template <class In, int Numerator, int Denominator>
struct fixed_scale_layer : parameter_free {
  using input_shape = In;
  using output_shape = In;
  static constexpr float factor = float(Numerator) / float(Denominator);
  static std::string describe() {
    return "fixed_scale " + std::to_string(Numerator) + "/" + std::to_string(Denominator);
  }
  void forward(const activation& x, activation& y, context&) {
    for (std::size_t i = 0; i < x.size(); ++i) y.data()[i] = factor * x.data()[i];
  }
  void backward(const activation&, const activation&, const activation& dy, activation* dx, context&) {
    if (dx)
      for (std::size_t i = 0; i < dy.size(); ++i) dx->data()[i] = factor * dy.data()[i];
  }
};

template <int Numerator, int Denominator>
struct fixed_scale {
  static_assert(Denominator != 0, "nibble::fixed_scale: the denominator must not be 0.");
  template <class In>
  static constexpr bool accepts = true;
  template <class In>
  using bind = fixed_scale_layer<In, Numerator, Denominator>;
};

}  // namespace nibble
