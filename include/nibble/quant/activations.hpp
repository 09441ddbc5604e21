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
//   pact_activation_bits<N>
//                         the same codes under a trained clip level α
//                         (PACT, Choi et al.): the grid's top is α, its
//                         step α / Qp; α starts at the first batch's
//                         max|x|, and its gradient is the sum of dL/dx̂
//                         over the inputs at or above α (and, for a signed
//                         input, −Qn/Qp times that over the inputs at or
//                         below the bottom)
//   power_of_two_activations<N, Estimator>
//                         levels 0 and 2^k code units (N = 2 … 4): for an
//                         input the first batch finds non-negative, 0, 1,
//                         2, … 2^(2^(N−1)−1) (4 bits: up to 128, a byte);
//                         otherwise the signed levels of power_of_two<N>
//                         (0, ±1, … ±64). The top level sits at the moving
//                         average of max|x| (rate 0.01). Trained through
//                         the estimator's soft staircase, or rounded with
//                         a clipped straight-through estimator. Not deployed
//                         yet (the deployed grids are uniform).
//
// A uniform code c stands for (c − z)·step with step = (hi − lo)/(2^N − 1) and zero
// point z = round(−lo/step): after a ReLU lo = 0 and z = 0; on a normalised
// image z sits inside the range, and zero padding is exactly the code z.
#include <concepts>
#include <string>
#include <utility>

#include "nibble/quant/bits.hpp"
#include "nibble/quant/estimator.hpp"

namespace nibble {

template <class T>
concept activation_policy = requires {
  { T::is_activation_policy } -> std::convertible_to<bool>;
  { T::valid } -> std::convertible_to<bool>;
  { T::quantized } -> std::convertible_to<bool>;
  { T::width } -> std::convertible_to<int>;
  { T::max_code } -> std::convertible_to<int>;  // the largest code (a level, for power-of-two levels)
  { T::uniform } -> std::convertible_to<bool>;   // codes on a uniform grid, as deployment needs
  { T::describe() } -> std::convertible_to<std::string>;
} && T::valid;

struct float_activations {
  static constexpr bool is_activation_policy = true;
  static constexpr bool valid = true;
  static constexpr bool quantized = false;
  static constexpr int width = 32;
  static constexpr int max_code = 0;
  static constexpr bool uniform = true;
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
  static constexpr bool uniform = true;
  static constexpr bool learned = false;
  static std::string describe() { return std::to_string(N) + "-bit activations (EMA range)"; }
};

namespace detail {
// A uniform N-bit grid with a trained parameter: its step (LSQ) or its top,
// the clip level (PACT).
template <int N, bool LearnsClip>
struct learned_grid {
  static constexpr bool is_activation_policy = true;
  static constexpr bool valid = (N >= 2 && N <= 8);
  static constexpr bool quantized = true;
  static constexpr int width = N;
  static constexpr int max_code = valid ? (1 << N) - 1 : 0;
  static constexpr bool uniform = true;
  static constexpr bool learned = true;
  static constexpr bool learns_clip = LearnsClip;
  static std::string describe() {
    return std::to_string(N) + (LearnsClip ? "-bit activations (PACT clip)" : "-bit activations (LSQ step)");
  }
};

// A soft staircase or clipped_ste: an estimator that stops at the top
// level, as an activation's must (plain ste passes gradients past it).
template <class E>
constexpr bool clips_at_the_top() {
  if constexpr (gradient_estimator<E>) return E::needs_quantizer;
  else return false;
}
}  // namespace detail

template <int N>
struct learned_activation_bits : detail::learned_grid<N, false> {};

template <int N>
struct pact_activation_bits : detail::learned_grid<N, true> {};

template <int N, class Estimator = soft_staircase<0.5f, 0.02f>>
struct power_of_two_activations {
  static constexpr bool is_activation_policy = true;
  static constexpr bool valid = (N >= 2 && N <= 4) && detail::clips_at_the_top<Estimator>();
  static constexpr bool quantized = true;
  static constexpr int width = N;
  static constexpr int max_code = valid ? 1 << ((1 << (N - 1)) - 1) : 0;
  static constexpr float ema_rate = 0.01f;
  static constexpr bool uniform = false;
  static constexpr bool learned = false;
  using estimator = Estimator;
  using signed_levels = power_of_two<N>;
  // The levels of a non-negative input: 0, 1, 2, … max_code.
  struct unsigned_levels {
    static constexpr int qmax = max_code;
    static constexpr bool uniform = false;
    static std::pair<float, float> bracket(float a) { return power_of_two_bracket(a, float(qmax)); }
  };
  static std::string describe() {
    return std::to_string(N) + "-bit power-of-two activations (EMA range, " + Estimator::describe() + ")";
  }
};

static_assert(activation_policy<float_activations>);
static_assert(activation_policy<activation_bits<8>>);
static_assert(!activation_policy<activation_bits<1>>);
static_assert(activation_policy<learned_activation_bits<4>>);
static_assert(activation_policy<pact_activation_bits<4>> && !activation_policy<pact_activation_bits<9>>);
static_assert(activation_policy<power_of_two_activations<4>> && power_of_two_activations<4>::max_code == 128);
static_assert(power_of_two_activations<2>::max_code == 2 && power_of_two_activations<3>::max_code == 8);
static_assert(!activation_policy<power_of_two_activations<5>>);
static_assert(!activation_policy<power_of_two_activations<4, ste>>);

}  // namespace nibble
