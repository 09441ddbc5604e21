#pragma once
// A quantization scheme: four compile-time policies composed into one type
// (bit width, clip, scaling, gradient estimator, in that order), then any
// options, in any order and each kind at most once: the arithmetic of the
// layer's products (fp32 by default), whether the layer quantizes its input
// activations (float by default; quant/activations.hpp), and how weights
// are rounded in training (to nearest by default; quant/rounding.hpp).
//
//   scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste>
//   scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, activation_bits<8>, bf16_arithmetic>
//   scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, stochastic_rounding>
//
// Layers take a scheme as a template argument; everything it decides is
// resolved at compile time, so the training step never branches on it.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>

#include "nibble/core/counter_random.hpp"
#include "nibble/kernels/elementwise.hpp"
#include "nibble/quant/activations.hpp"
#include "nibble/quant/arithmetic.hpp"
#include "nibble/quant/bits.hpp"
#include "nibble/quant/clip.hpp"
#include "nibble/quant/concepts.hpp"
#include "nibble/quant/estimator.hpp"
#include "nibble/quant/rounding.hpp"
#include "nibble/quant/scaling.hpp"
#include "nibble/quant/soft_staircase.hpp"

namespace nibble {

namespace detail {

// The kinds of option a scheme takes after its four policies.
enum class option_kind { none, arithmetic, activations, rounding };

template <class T>
consteval option_kind option_kind_of() {
  if constexpr (arithmetic_policy<T>) return option_kind::arithmetic;
  else if constexpr (activation_policy<T>) return option_kind::activations;
  else if constexpr (rounding_policy<T>) return option_kind::rounding;
  else return option_kind::none;
}

template <option_kind K, class... Options>
inline constexpr std::size_t options_of_kind = (std::size_t(option_kind_of<Options>() == K) + ... + 0);

// Every option is of a known kind, and no kind is given twice.
template <class... Options>
inline constexpr bool options_valid =
    options_of_kind<option_kind::none, Options...> == 0 && options_of_kind<option_kind::arithmetic, Options...> <= 1 &&
    options_of_kind<option_kind::activations, Options...> <= 1 && options_of_kind<option_kind::rounding, Options...> <= 1;

// The option of kind K, or Default when none is given.
template <option_kind K, class Default, class... Options>
struct option_or {
  using type = Default;
};
template <option_kind K, class Default, class O, class... Options>
struct option_or<K, Default, O, Options...> {
  using type = std::conditional_t<option_kind_of<O>() == K, O, typename option_or<K, Default, Options...>::type>;
};
template <option_kind K, class Default, class... Options>
using option_or_t = typename option_or<K, Default, Options...>::type;

}  // namespace detail

// True when the four policies model their concepts, the options are valid
// and everything fits together. It is a plain constant, so tests (and
// users) can ask without a compile error.
template <class Bits, class Clip, class Scaling, class Estimator, class... Options>
consteval bool is_valid_scheme_v() {
  if constexpr (!bit_width_policy<Bits> || !clip_policy<Clip> || !scaling_policy<Scaling> ||
                !gradient_estimator<Estimator> || !detail::options_valid<Options...>) {
    return false;
  } else {
    constexpr bool float_scaling = std::is_same_v<Scaling, no_scaling>;
    if (Bits::quantized == float_scaling) return false;
    if (Estimator::needs_quantizer && !Bits::quantized) return false;
    if (Scaling::learned && !Estimator::needs_quantizer) return false;
    if (Scaling::learned && !Bits::uniform) return false;
    using rounding = detail::option_or_t<detail::option_kind::rounding, round_to_nearest, Options...>;
    if (Estimator::soft && rounding::stochastic) return false;
    return true;
  }
}
template <class Bits, class Clip, class Scaling, class Estimator, class... Options>
inline constexpr bool is_valid_scheme = is_valid_scheme_v<Bits, Clip, Scaling, Estimator, Options...>();

template <class Bits, class Clip, class Scaling, class Estimator, class... Options>
struct scheme {
  static_assert(bit_width_policy<Bits>,
                "nibble::scheme: the first argument must be a bit-width policy: bits<N> with 2 <= N <= 8, "
                "power_of_two<N> with 2 <= N <= 4, or full_precision.");
  static_assert(clip_policy<Clip>,
                "nibble::scheme: the second argument must be a clip policy (no_clip, hard_clip<C>, "
                "tanh_clip<C>) with a positive bound C.");
  static_assert(scaling_policy<Scaling>,
                "nibble::scheme: the third argument must be a scaling policy (abs_max_per_tensor, "
                "abs_max_per_channel, percentile_per_tensor<P> or percentile_per_channel<P> with 50 < P <= 100, "
                "learned_step, learned_step_per_channel, no_scaling).");
  static_assert(gradient_estimator<Estimator>,
                "nibble::scheme: the fourth argument must be a gradient estimator (ste, clipped_ste, or "
                "soft_staircase<T0, T1> with T0 >= T1 > 0).");
  static_assert(detail::options_of_kind<detail::option_kind::none, Options...> == 0,
                "nibble::scheme: every argument after the fourth must be an option: an arithmetic policy "
                "(fp32_arithmetic, bf16_arithmetic), an activation policy (float_activations, activation_bits<N> or "
                "learned_activation_bits<N> with 2 <= N <= 8, power_of_two_activations<N, E> with 2 <= N <= 4 and "
                "E a soft staircase or clipped_ste) or a rounding policy (round_to_nearest, stochastic_rounding).");
  static_assert(detail::options_valid<Options...> || detail::options_of_kind<detail::option_kind::none, Options...> > 0,
                "nibble::scheme: an option kind is given twice (two arithmetic, activation or rounding policies); "
                "give each kind at most once.");
  static_assert(!bit_width_policy<Bits> || !scaling_policy<Scaling> ||
                    Bits::quantized != std::is_same_v<Scaling, no_scaling>,
                "nibble::scheme: a quantized bit width needs a scaling policy that finds a step size, and "
                "no_scaling fits only full_precision.");
  static_assert(!scaling_policy<Scaling> || !gradient_estimator<Estimator> || !Scaling::learned ||
                    Estimator::needs_quantizer,
                "nibble::scheme: a learned step (LSQ) lets weight gradients through only inside the quantizer's "
                "range, as Esser et al. define it: use clipped_ste as the estimator.");
  static_assert(!bit_width_policy<Bits> || !scaling_policy<Scaling> || !Scaling::learned || Bits::uniform,
                "nibble::scheme: a learned step (LSQ) has its gradient derived for uniform levels; with "
                "power_of_two<N> use abs-max or percentile scaling.");
  static_assert(!gradient_estimator<Estimator> || !Estimator::soft ||
                    !detail::option_or_t<detail::option_kind::rounding, round_to_nearest, Options...>::stochastic,
                "nibble::scheme: a soft staircase replaces rounding in training, so stochastic rounding would never "
                "be used; choose one of the two.");
  static_assert(!bit_width_policy<Bits> || !gradient_estimator<Estimator> || !Estimator::needs_quantizer ||
                    Bits::quantized,
                "nibble::scheme: clipped_ste zeroes gradients outside the quantizer's range, so it needs a "
                "quantized bit width, not full_precision.");

  using bit_width = Bits;
  using clip = Clip;
  using scaling = Scaling;
  using estimator = Estimator;
  using arithmetic = detail::option_or_t<detail::option_kind::arithmetic, fp32_arithmetic, Options...>;
  using activations = detail::option_or_t<detail::option_kind::activations, float_activations, Options...>;
  using rounding = detail::option_or_t<detail::option_kind::rounding, round_to_nearest, Options...>;
  static constexpr bool quantized = Bits::quantized;
  static constexpr bool quantizes_activations = activations::quantized;
  static constexpr bool stochastic = quantized && rounding::stochastic;
  static constexpr int qmax = Bits::qmax;
  static constexpr bool per_channel = Scaling::per_channel;
  static constexpr bool learned_scale = Scaling::learned;

  // In words, e.g. "4-bit, abs-max scale per tensor, tanh clip 3, STE, fp32 products"
  // (then ", 8-bit activations (EMA range)" when the input is quantized, and
  // ", stochastic rounding" when it rounds so). Defaults add nothing, so a
  // description never changes when an option is spelled out.
  static std::string describe() {
    return Bits::describe() + ", " + Scaling::describe() + ", " + Clip::describe() + ", " + Estimator::describe() +
           ", " + arithmetic::describe() + " products" +
           (quantizes_activations ? ", " + activations::describe() : std::string()) +
           (rounding::stochastic ? ", " + rounding::describe() : std::string());
  }

  // Number of scales for a weight with `rows` output channels.
  static constexpr std::size_t scale_count(std::size_t rows) { return per_channel ? rows : 1; }

  // The nearest level to x (in code units), clamped to the range; ties go
  // to even for uniform levels (nearbyint) and up for powers of two.
  static float nearest_code(float x) {
    if constexpr (Bits::uniform) {
      return std::clamp(std::nearbyint(x), -float(qmax), float(qmax));
    } else {
      return std::copysign(nearest_level<Bits>(std::fabs(x)), x);
    }
  }

  // Integer code of w under step `scale`. A full-precision scheme has no
  // codes: asking for one does not compile.
  template <class Quantized = std::bool_constant<quantized>>
  static int code(float w, float scale) {
    static_assert(Quantized::value,
                  "nibble::scheme::code: a full-precision scheme (bits<32>) has no integer codes; its weights are "
                  "used as they are.");
    return static_cast<int>(nearest_code(w / scale));
  }

  // Fake quantization, row by row: wq = level(w / s) · s, the level the
  // nearest (clamped to the range), with the scales the scaling policy
  // computes (a learned step is read from `scales` instead).
  // In training, two things can change how a level is picked:
  // - `key`: a stochastic-rounding scheme takes the level above with
  //   probability equal to the distance from the level below, drawing
  //   element i's uniform from (key, i);
  // - `temperature` > 0: a soft_staircase scheme gives the soft staircase's
  //   value instead of a level.
  // Without them (evaluation, statistics, deployment) it rounds to nearest.
  // With `slopes`, the soft staircase also writes its derivative there, so
  // that backward need not evaluate it again.
  static void quantize(const float* w, float* wq, std::size_t rows, std::size_t cols, float* scales,
                       const std::uint64_t* key = nullptr, float temperature = 0.0f, float* slopes = nullptr) {
    if constexpr (!quantized) {
      std::copy(w, w + rows * cols, wq);
      scales[0] = 1.0f;
    } else {
      if constexpr (!Scaling::learned) Scaling::compute(w, rows, cols, float(qmax), scales);  // else: given
      const std::size_t groups = per_channel ? rows : 1, n = per_channel ? cols : rows * cols;
      for (std::size_t g = 0; g < groups; ++g) {
        const float* src = w + g * n;
        float* dst = wq + g * n;
        const float s = scales[g];
        if (Estimator::soft && temperature > 0.0f) {
          const float kappa = 1.0f / temperature;
          float* slope = slopes ? slopes + g * n : nullptr;
          kernels::for_chunks(n, [&](std::size_t b, std::size_t e) {
            soft_quantize_n<Bits>(src + b, e - b, s, kappa, s, dst + b, slope ? slope + b : nullptr);
          });
        } else if constexpr (Bits::uniform) {
          if (stochastic && key)
            kernels::fake_quantize_stochastic(src, dst, n, s, qmax, *key, g * n);
          else
            kernels::fake_quantize(src, dst, n, s, qmax);
        } else if (stochastic && key) {
          each(n, [&](std::size_t i) {
            const float a = std::fmin(std::fabs(src[i] / s), float(qmax));
            const auto [lo, hi] = Bits::bracket(a);
            const bool up = hi > lo && uniform01(*key, g * n + i) < (a - lo) / (hi - lo);
            dst[i] = std::copysign(up ? hi : lo, src[i]) * s;
          });
        } else {
          each(n, [&](std::size_t i) { dst[i] = nearest_code(src[i] / s) * s; });
        }
      }
    }
  }

  // Turn dL/dWq (in `grad`) into dL/dW with the gradient estimator, or for
  // a soft staircase (trained at `temperature` > 0) with its derivative,
  // taken from `slopes` when quantize kept it there.
  static void backward(const float* w, const float* scales, float* grad, std::size_t rows, std::size_t cols,
                       float temperature = 0.0f, const float* slopes = nullptr) {
    if constexpr (Estimator::soft) {
      if (slopes && temperature > 0.0f) {  // kept by the forward's quantize
        each(rows * cols, [&](std::size_t i) { grad[i] *= slopes[i]; });
        return;
      }
      const float kappa = temperature > 0.0f ? 1.0f / temperature : 0.0f;
      for (std::size_t r = 0; r < rows; ++r) {
        const float s = scales[per_channel ? r : 0];
        each(cols, [&](std::size_t c) {
          float& g = grad[r * cols + c];
          const float x = w[r * cols + c] / s;
          g *= kappa > 0.0f ? soft_quantize<Bits>(x, kappa).slope : (std::fabs(x) <= float(qmax) ? 1.0f : 0.0f);
        });
      }
    } else if constexpr (!Estimator::is_identity) {
      for (std::size_t r = 0; r < rows; ++r) {
        const float s = scales[per_channel ? r : 0];
        for (std::size_t c = 0; c < cols; ++c)
          grad[r * cols + c] *= Estimator::derivative(w[r * cols + c], s, float(qmax));
      }
    }
  }

  // The scheme's post-step clip of the float master weights.
  static void post_step(float* w, std::size_t n) { Clip::apply(w, n); }

 private:
  // f(i) for i in [0, n), split over the threads for large n.
  template <class F>
  static void each(std::size_t n, F&& f) {
    kernels::for_chunks(n, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) f(i);
    });
  }
};

template <class T>
struct is_scheme : std::false_type {};
template <class B, class C, class S, class E, class... Options>
struct is_scheme<scheme<B, C, S, E, Options...>> : std::true_type {};
template <class T>
concept quant_scheme = is_scheme<T>::value;

}  // namespace nibble
