#pragma once
// dropout<P> — Represents: in train mode, each element is zeroed with
// probability P and the survivors scaled by 1/(1−P) (inverted dropout); in
// eval mode the identity. Requires: any shape, 0 <= P < 1. Ensures: same shape.
#include <random>
#include <vector>

#include <fmt/core.h>

#include "nibble/layers/layer.hpp"

namespace nibble {

template <class In, float P>
class dropout_layer : public parameter_free {
 public:
  using input_shape = In;
  using output_shape = In;
  static std::string describe() { return fmt::format("dropout {}", P); }
  void forward(const activation& x, activation& y, context& ctx) {
    const std::size_t n = x.size();
    mask_.resize(n);
    if (!ctx.training() || P == 0.0f) {
      std::fill(mask_.begin(), mask_.end(), 1.0f);
    } else {
      std::bernoulli_distribution keep(1.0 - double(P));
      const float scale = 1.0f / (1.0f - P);
      for (auto& m : mask_) m = keep(ctx.rng) ? scale : 0.0f;
    }
    for (std::size_t i = 0; i < n; ++i) y.data()[i] = x.data()[i] * mask_[i];
  }
  void backward(const activation&, const activation&, const activation& dy, activation* dx, context&) {
    if (dx)
      for (std::size_t i = 0; i < dy.size(); ++i) dx->data()[i] = dy.data()[i] * mask_[i];
  }

 private:
  std::vector<float> mask_;
};

template <float P>
struct dropout {
  static_assert(P >= 0.0f && P < 1.0f, "nibble::dropout: the drop probability must lie in [0, 1).");
  template <class In>
  static constexpr bool accepts = true;
  template <class In>
  using bind = dropout_layer<In, P>;
};

}  // namespace nibble
