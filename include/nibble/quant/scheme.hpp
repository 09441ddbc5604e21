#pragma once
// A quantization scheme: four compile-time policies composed into one type,
// plus two optional ones: the arithmetic of the layer's products, and
// whether the layer quantizes its input activations (quant/activations.hpp).
//
//   scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste>
//   scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, fp32_arithmetic, activation_bits<8>>
//
// Layers take a scheme as a template argument; everything it decides is
// resolved at compile time, so the training step never branches on it.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>

#include "nibble/kernels/elementwise.hpp"
#include "nibble/quant/activations.hpp"
#include "nibble/quant/arithmetic.hpp"
#include "nibble/quant/bits.hpp"
#include "nibble/quant/clip.hpp"
#include "nibble/quant/concepts.hpp"
#include "nibble/quant/estimator.hpp"
#include "nibble/quant/scaling.hpp"

namespace nibble {

// True when the four policies model their concepts and fit together. It is a
// plain constant, so tests (and users) can ask without a compile error.
template <class Bits, class Clip, class Scaling, class Estimator, class Arithmetic = fp32_arithmetic,
          class Activations = float_activations>
consteval bool is_valid_scheme_v() {
  if constexpr (!bit_width_policy<Bits> || !clip_policy<Clip> || !scaling_policy<Scaling> ||
                !gradient_estimator<Estimator> || !arithmetic_policy<Arithmetic> ||
                !activation_policy<Activations>) {
    return false;
  } else {
    constexpr bool float_scaling = std::is_same_v<Scaling, no_scaling>;
    if (Bits::quantized == float_scaling) return false;
    if (Estimator::needs_quantizer && !Bits::quantized) return false;
    return true;
  }
}
template <class Bits, class Clip, class Scaling, class Estimator, class Arithmetic = fp32_arithmetic,
          class Activations = float_activations>
inline constexpr bool is_valid_scheme = is_valid_scheme_v<Bits, Clip, Scaling, Estimator, Arithmetic, Activations>();

template <class Bits, class Clip, class Scaling, class Estimator, class Arithmetic = fp32_arithmetic,
          class Activations = float_activations>
struct scheme {
  static_assert(bit_width_policy<Bits>,
                "nibble::scheme: the first argument must be a bit-width policy: bits<N> with 2 <= N <= 8, "
                "or full_precision.");
  static_assert(clip_policy<Clip>,
                "nibble::scheme: the second argument must be a clip policy (no_clip, hard_clip<C>, "
                "tanh_clip<C>) with a positive bound C.");
  static_assert(scaling_policy<Scaling>,
                "nibble::scheme: the third argument must be a scaling policy (abs_max_per_tensor, "
                "abs_max_per_channel, no_scaling).");
  static_assert(gradient_estimator<Estimator>,
                "nibble::scheme: the fourth argument must be a gradient estimator (ste, clipped_ste).");
  static_assert(arithmetic_policy<Arithmetic>,
                "nibble::scheme: the optional fifth argument must be an arithmetic policy (fp32_arithmetic, "
                "bf16_arithmetic).");
  static_assert(activation_policy<Activations>,
                "nibble::scheme: the optional sixth argument must be an activation policy: float_activations, "
                "or activation_bits<N> with 2 <= N <= 8.");
  static_assert(!bit_width_policy<Bits> || !scaling_policy<Scaling> ||
                    Bits::quantized != std::is_same_v<Scaling, no_scaling>,
                "nibble::scheme: a quantized bit width needs a scaling policy that finds a step size, and "
                "no_scaling fits only full_precision.");
  static_assert(!bit_width_policy<Bits> || !gradient_estimator<Estimator> || !Estimator::needs_quantizer ||
                    Bits::quantized,
                "nibble::scheme: clipped_ste zeroes gradients outside the quantizer's range, so it needs a "
                "quantized bit width, not full_precision.");

  using bit_width = Bits;
  using clip = Clip;
  using scaling = Scaling;
  using estimator = Estimator;
  using arithmetic = Arithmetic;
  using activations = Activations;
  static constexpr bool quantized = Bits::quantized;
  static constexpr bool quantizes_activations = Activations::quantized;
  static constexpr int qmax = Bits::qmax;
  static constexpr bool per_channel = Scaling::per_channel;

  // In words, e.g. "4-bit, abs-max scale per tensor, tanh clip 3, STE, fp32 products"
  // (then ", 8-bit activations (EMA range)" when the input is quantized).
  static std::string describe() {
    return Bits::describe() + ", " + Scaling::describe() + ", " + Clip::describe() + ", " + Estimator::describe() +
           ", " + Arithmetic::describe() + " products" +
           (quantizes_activations ? ", " + Activations::describe() : std::string());
  }

  // Number of scales for a weight with `rows` output channels.
  static constexpr std::size_t scale_count(std::size_t rows) { return per_channel ? rows : 1; }

  // Integer code of w under step `scale`. A full-precision scheme has no
  // codes: asking for one does not compile.
  template <class Quantized = std::bool_constant<quantized>>
  static int code(float w, float scale) {
    static_assert(Quantized::value,
                  "nibble::scheme::code: a full-precision scheme (bits<32>) has no integer codes; its weights are "
                  "used as they are.");
    const float q = std::nearbyint(w / scale);
    return static_cast<int>(std::clamp(q, -float(qmax), float(qmax)));
  }

  // Fake quantization: wq = clamp(round(w / s), -qmax, qmax) * s, row by row.
  static void quantize(const float* w, float* wq, std::size_t rows, std::size_t cols, float* scales) {
    if constexpr (!quantized) {
      std::copy(w, w + rows * cols, wq);
      scales[0] = 1.0f;
    } else {
      Scaling::compute(w, rows, cols, float(qmax), scales);
      if constexpr (per_channel) {
        for (std::size_t r = 0; r < rows; ++r) kernels::fake_quantize(w + r * cols, wq + r * cols, cols, scales[r], qmax);
      } else {
        kernels::fake_quantize(w, wq, rows * cols, scales[0], qmax);
      }
    }
  }

  // Turn dL/dWq (in `grad`) into dL/dW with the gradient estimator.
  static void backward(const float* w, const float* scales, float* grad, std::size_t rows, std::size_t cols) {
    if constexpr (!Estimator::is_identity) {
      for (std::size_t r = 0; r < rows; ++r) {
        const float s = scales[per_channel ? r : 0];
        for (std::size_t c = 0; c < cols; ++c)
          grad[r * cols + c] *= Estimator::derivative(w[r * cols + c], s, float(qmax));
      }
    }
  }

  // The scheme's post-step clip of the float master weights.
  static void post_step(float* w, std::size_t n) { Clip::apply(w, n); }
};

template <class T>
struct is_scheme : std::false_type {};
template <class B, class C, class S, class E, class A, class Act>
struct is_scheme<scheme<B, C, S, E, A, Act>> : std::true_type {};
template <class T>
concept quant_scheme = is_scheme<T>::value;

}  // namespace nibble
