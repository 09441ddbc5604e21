#pragma once
// How a trained layer spec becomes a deployed one: rule<Spec, Next> gives
// the deployed spec (void: dropped), how many trained layers it stands for
// (2 when it folds the batch norm after it), and how it is filled from
// them. Parameter-free layers stay as they are (the primary rule); each
// deployed layer's header specialises the rule for the trained layers it
// stands for (deploy/conv2d.hpp for a conv2d with float inputs,
// deploy/integer_conv2d.hpp for one with quantized inputs, ...), and
// deploy/convert.hpp walks a network with them.
#include <cstddef>

#include "nibble/deploy/options.hpp"
#include "nibble/layers/batch_norm.hpp"

namespace nibble::deploy {

template <class Spec, class Next>
struct rule {  // parameter-free layers stay as they are
  using spec = Spec;
  static constexpr std::size_t consumes = 1;
  template <class D, class T>
  static void fill(D&, const T&) {}
};

// Whether a spec is a batch norm that can fold into the layer before it.
template <class Spec>
struct norm_spec {
  static constexpr bool is_norm = false, relu = false;
};
template <>
struct norm_spec<nibble::batch_norm> {
  static constexpr bool is_norm = true, relu = false;
};
template <>
struct norm_spec<nibble::batch_norm_relu> {
  static constexpr bool is_norm = true, relu = true;
};

// A conv2d or linear: takes the batch norm after it (and its ReLU) along.
template <class Next>
struct weighted_rule {
  static constexpr bool folds = norm_spec<Next>::is_norm;
  static constexpr bool relu = folds && norm_spec<Next>::relu;
  static constexpr std::size_t consumes = folds ? 2 : 1;
  template <class D, class... T>
  static void fill(D& d, const T&... trained) {
    d.fold_from(trained...);
  }
};

}  // namespace nibble::deploy
