#pragma once
// Named schemes: the paper's 4-bit recipe, its 8-bit sibling and FP32.
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

// Scheme S with its arithmetic policy replaced by A.
template <class S, class A>
struct with_arithmetic;
template <class B, class C, class Sc, class E, class Old, class A>
struct with_arithmetic<scheme<B, C, Sc, E, Old>, A> {
  using type = scheme<B, C, Sc, E, A>;
};
template <class S, class A>
using with_arithmetic_t = typename with_arithmetic<S, A>::type;
static_assert(std::is_same_v<with_arithmetic_t<paper_4bit, bf16_arithmetic>, paper_4bit_bf16>);

// The scheme a `--bits N` command-line choice stands for.
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
