#pragma once
// Activation policies: whether a conv2d or linear layer quantizes its input,
// and to how many bits. They are the optional sixth argument of a scheme.
//
//   float_activations     the input stays float (the paper's scheme)
//   activation_bits<N>    unsigned N-bit codes 0 … 2^N − 1 (N = 2 … 8) over
//                         a range [lo, hi] ∋ 0 tracked during training by an
//                         exponential moving average of the batch minimum
//                         and maximum (rate 0.01) and frozen in eval
//   learned_activation_bits<N>
//                         the same codes on a grid whose step is trained
//                         (LSQ for activations, Esser et al.): zero point 0
//                         for an input the first batch finds non-negative
//                         (after a ReLU), 2^(N−1) otherwise; the step starts
//                         at 2·mean|x| / sqrt(Qp) of that batch
//
// A code c stands for (c − z)·step with step = (hi − lo)/(2^N − 1) and zero
// point z = round(−lo/step): after a ReLU lo = 0 and z = 0; on a normalised
// image z sits inside the range, and zero padding is exactly the code z.
#include <concepts>
#include <string>

namespace nibble {

template <class T>
concept activation_policy = requires {
  { T::is_activation_policy } -> std::convertible_to<bool>;
  { T::valid } -> std::convertible_to<bool>;
  { T::quantized } -> std::convertible_to<bool>;
  { T::width } -> std::convertible_to<int>;
  { T::max_code } -> std::convertible_to<int>;
  { T::describe() } -> std::convertible_to<std::string>;
} && T::valid;

struct float_activations {
  static constexpr bool is_activation_policy = true;
  static constexpr bool valid = true;
  static constexpr bool quantized = false;
  static constexpr int width = 32;
  static constexpr int max_code = 0;
  static constexpr bool learned = false;
  static std::string describe() { return "float activations"; }
};

template <int N>
struct activation_bits {
  static constexpr bool is_activation_policy = true;
  static constexpr bool valid = (N >= 2 && N <= 8);
  static constexpr bool quantized = true;
  static constexpr int width = N;
  static constexpr int max_code = valid ? (1 << N) - 1 : 0;
  // Weight of the newest batch in the moving average of the range.
  static constexpr float ema_rate = 0.01f;
  static constexpr bool learned = false;
  static std::string describe() { return std::to_string(N) + "-bit activations (EMA range)"; }
};

template <int N>
struct learned_activation_bits {
  static constexpr bool is_activation_policy = true;
  static constexpr bool valid = (N >= 2 && N <= 8);
  static constexpr bool quantized = true;
  static constexpr int width = N;
  static constexpr int max_code = valid ? (1 << N) - 1 : 0;
  static constexpr bool learned = true;
  static std::string describe() { return std::to_string(N) + "-bit activations (LSQ step)"; }
};

static_assert(activation_policy<float_activations>);
static_assert(activation_policy<activation_bits<8>>);
static_assert(!activation_policy<activation_bits<1>>);
static_assert(activation_policy<learned_activation_bits<4>>);

}  // namespace nibble
