#pragma once
// The four policy kinds that make up a quantization scheme. Each concept is
// small and checkable without instantiating anything that could fail, so
// traits such as is_valid_scheme can report "no" instead of a hard error.
// Every policy describes itself in words (describe()), which is how
// checkpoints and messages name a scheme without a compiler's type name.
#include <concepts>
#include <cstddef>
#include <string>

namespace nibble {

// Bit width: number of levels, or full precision.
template <class T>
concept bit_width_policy = requires {
  { T::quantized } -> std::convertible_to<bool>;
  { T::width } -> std::convertible_to<int>;
  { T::qmax } -> std::convertible_to<int>;
  { T::valid } -> std::convertible_to<bool>;
  { T::describe() } -> std::convertible_to<std::string>;
} && T::valid;

// Clip function applied to the float master weights after each optimizer step.
template <class T>
concept clip_policy = requires(float* w, std::size_t n) {
  { T::is_clip_policy } -> std::convertible_to<bool>;
  { T::valid } -> std::convertible_to<bool>;
  { T::describe() } -> std::convertible_to<std::string>;
  T::apply(w, n);
} && T::valid;

// Scaling: how the float step between levels is found (per tensor or per
// output channel): computed from the weights, or learned (a trainable
// parameter of the layer, whose compute() only initialises it).
template <class T>
concept scaling_policy = requires(const float* w, std::size_t rows, std::size_t cols, float qmax,
                                  float* scales) {
  { T::is_scaling_policy } -> std::convertible_to<bool>;
  { T::per_channel } -> std::convertible_to<bool>;
  { T::learned } -> std::convertible_to<bool>;
  { T::valid } -> std::convertible_to<bool>;
  { T::describe() } -> std::convertible_to<std::string>;
  T::compute(w, rows, cols, qmax, scales);
} && T::valid;

// Gradient estimator: the derivative used for the rounding step in backward
// (or, for a soft quantizer, the soft function's own).
template <class T>
concept gradient_estimator = requires(float w, float scale, float qmax) {
  { T::is_gradient_estimator } -> std::convertible_to<bool>;
  { T::needs_quantizer } -> std::convertible_to<bool>;
  { T::soft } -> std::convertible_to<bool>;
  { T::valid } -> std::convertible_to<bool>;
  { T::describe() } -> std::convertible_to<std::string>;
  { T::derivative(w, scale, qmax) } -> std::convertible_to<float>;
} && T::valid;

}  // namespace nibble
