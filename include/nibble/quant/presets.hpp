#pragma once
// Named schemes: the paper's 4-bit recipe, its 8-bit sibling, FP32, the
// weight/activation pairs of integer inference (W4A8, W4A4, W8A8), the
// other 4-bit schemes the trainers name (LSQ, power-of-two, ...), and the
// tools that swap one option of a scheme (with_arithmetic_t, ...).
#include <type_traits>

#include "nibble/quant/scheme.hpp"

namespace nibble {

// "True 4-Bit Quantized CNN Training on CPU": 15 levels, per-tensor abs-max
// scale, straight-through gradients, tanh soft clip at 3 after each step.
using paper_4bit = scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste>;
// The paper's scheme with bf16 products (AVX512-BF16).
using paper_4bit_bf16 = scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, bf16_arithmetic>;
// The same recipe with 255 levels.
using int8_scheme = scheme<bits<8>, tanh_clip<3.0f>, abs_max_per_tensor, ste>;
// Float pass-through: the FP32 baseline.
using float32_scheme = scheme<full_precision, no_clip, no_scaling, ste>;

namespace detail {
// Scheme S with its option of kind K removed, then New appended unless it
// is that kind's default (so that replacing an option by the default gives
// back the plain scheme's type).
template <class S, option_kind K, class New, class Default>
struct with_option;
template <class B, class C, class Sc, class E, class... Options, option_kind K, class New, class Default>
struct with_option<scheme<B, C, Sc, E, Options...>, K, New, Default> {
  template <class... Kept>
  struct list {
    using type = std::conditional_t<std::is_same_v<New, Default>, scheme<B, C, Sc, E, Kept...>,
                                    scheme<B, C, Sc, E, Kept..., New>>;
  };
  template <class L, class... Rest>
  struct keep {
    using type = L;
  };
  template <class... Kept, class O, class... Rest>
  struct keep<list<Kept...>, O, Rest...> {
    using type = typename keep<std::conditional_t<option_kind_of<O>() == K, list<Kept...>, list<Kept..., O>>,
                               Rest...>::type;
  };
  using type = typename keep<list<>, Options...>::type::type;
};
}  // namespace detail

// Scheme S with its arithmetic policy replaced by A.
template <class S, class A>
using with_arithmetic_t = typename detail::with_option<S, detail::option_kind::arithmetic, A, fp32_arithmetic>::type;
static_assert(std::is_same_v<with_arithmetic_t<paper_4bit, bf16_arithmetic>, paper_4bit_bf16>);

// Scheme S with its activation policy replaced by Act.
template <class S, class Act>
using with_activations_t =
    typename detail::with_option<S, detail::option_kind::activations, Act, float_activations>::type;

// Scheme S with its rounding policy replaced by R.
template <class S, class R>
using with_rounding_t = typename detail::with_option<S, detail::option_kind::rounding, R, round_to_nearest>::type;

// Integer-inference schemes: the paper's weight recipe, and every conv2d and
// linear layer also quantizes its input to unsigned codes.
using w4a8 = with_activations_t<paper_4bit, activation_bits<8>>;
using w4a4 = with_activations_t<paper_4bit, activation_bits<4>>;
using w8a8 = with_activations_t<int8_scheme, activation_bits<8>>;

// The other 4-bit weight schemes the trainers name (--scheme); each is the
// paper's recipe with one idea changed.
// Weights round up or down at random, unbiased (stochastic rounding).
using stochastic_w4 = with_rounding_t<paper_4bit, stochastic_rounding>;
// The scale puts the 99.9th percentile of |W| at the top level; the rest clamp.
using percentile_w4 = scheme<bits<4>, tanh_clip<3.0f>, percentile_per_tensor<99.9f>, ste>;
// A learned step per tensor (LSQ, Esser et al.); no soft clip, since the
// step decides what saturates.
using lsq_w4 = scheme<bits<4>, no_clip, learned_step, clipped_ste>;
// LSQ weights and LSQ 4-bit inputs to every conv and linear layer.
using lsq_w4a4 = with_activations_t<lsq_w4, learned_activation_bits<4>>;
// The paper's weights and 4-bit inputs under a learned clip level (PACT).
using pact_w4a4 = with_activations_t<paper_4bit, pact_activation_bits<4>>;
// Power-of-two levels (0, ±1, ±2, ... ±64 code units), trained through a
// soft staircase whose temperature falls from 0.5 to 0.02 over the run.
using pot_w4 = scheme<power_of_two<4>, tanh_clip<3.0f>, abs_max_per_tensor, soft_staircase<0.5f, 0.02f>>;
// Power-of-two weights and power-of-two inputs to every conv and linear
// layer (0, 1, 2, … 128 code units after a ReLU), both soft in training.
using pot_w4a4 = with_activations_t<pot_w4, power_of_two_activations<4>>;

// The activation policy for N activation bits (32: float).
template <int N>
struct activations_for_bits {
  using type = activation_bits<N>;
};
template <>
struct activations_for_bits<32> {
  using type = float_activations;
};
template <int N>
using activations_for_bits_t = typename activations_for_bits<N>::type;

// The paper's scheme at N weight bits (32: float weights).
template <int N>
struct scheme_for_bits;
template <>
struct scheme_for_bits<4> { using type = paper_4bit; };
template <>
struct scheme_for_bits<8> { using type = int8_scheme; };
template <>
struct scheme_for_bits<32> { using type = float32_scheme; };
template <int N>
using scheme_for_bits_t = typename scheme_for_bits<N>::type;

}  // namespace nibble
