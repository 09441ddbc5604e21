#pragma once
// deploy::channel_affine<Options...> (with_relu)
//
// Represents: a batch norm that had no conv2d or linear before it to fold
// into, in eval mode: y = multiplier_c · x + offset_c (then ReLU).
// Requires: any shape. Ensures: the same shape.
#include <string>

#include "nibble/deploy/options.hpp"
#include "nibble/deploy/rule.hpp"
#include "nibble/deploy/table_row.hpp"
#include "nibble/deploy/weight_matrix.hpp"
#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble::deploy {

template <class In, class... Options>
class channel_affine_layer {
  static constexpr bool Relu = has_option<with_relu, Options...>;

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

  deploy::table_row table_row() const {
    return {.kind = layer_kind::affine, .relu = Relu, .floats = {epilogue.multiplier, epilogue.offset}};
  }
};

template <class... Options>
struct channel_affine {
  template <class In>
  static constexpr bool accepts = true;
  template <class In>
  using bind = channel_affine_layer<In, Options...>;
  template <class Tag>
  using with = channel_affine<Options..., Tag>;
};

// A batch norm with nothing before it to fold into.
template <bool Relu>
struct lone_norm_rule {
  using spec = add_option_if<Relu, deploy::channel_affine<>, with_relu>;
  static constexpr std::size_t consumes = 1;
  template <class D, class T>
  static void fill(D& d, const T& norm) {
    d.fold_from(norm);
  }
};
template <class Next>
struct rule<nibble::batch_norm, Next> : lone_norm_rule<false> {};
template <class Next>
struct rule<nibble::batch_norm_relu, Next> : lone_norm_rule<true> {};

}  // namespace nibble::deploy
