#pragma once
// A differentiable quantizer in the style of Differentiable Soft
// Quantization (Gong et al., 2019): between two neighbouring levels lo < hi
// (in code units) the staircase's step is replaced by a scaled tanh,
//
//   φ(x) = lo + (hi − lo) · ½ · (1 + tanh(κ (x − m) / Δ) / tanh(κ / 2)),
//   m = (lo + hi) / 2, Δ = hi − lo, κ = 1 / temperature,
//
// which meets the levels at both ends of the interval (so φ is continuous
// across levels), tends to the identity as κ → 0 and to rounding to the
// nearest level as κ → ∞. Its derivative is the true one,
//
//   φ'(x) = κ / (2 tanh(κ / 2)) · sech²(κ (x − m) / Δ),
//
// the same for uniform and power-of-two levels because κ is taken relative
// to each interval's width. Beyond the largest level φ saturates (φ' = 0).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "nibble/kernels/simd.hpp"

namespace nibble {

struct soft_point {
  float value, slope;
};

// φ and φ' at magnitude a >= 0 between levels lo <= a <= hi.
inline soft_point soft_step(float a, float lo, float hi, float kappa) {
  if (hi <= lo) return {lo, 0.0f};  // at or past the largest level
  const float width = hi - lo, t = std::tanh(kappa * 0.5f);
  const float u = kappa * (a - 0.5f * (lo + hi)) / width, th = std::tanh(u);
  return {lo + width * 0.5f * (1.0f + th / t), kappa / (2.0f * t) * (1.0f - th * th)};
}

// φ and φ' at any x, the levels given by Levels::bracket (odd in x).
template <class Levels>
soft_point soft_quantize(float x, float kappa) {
  const float a = std::fabs(x);
  const auto [lo, hi] = Levels::bracket(std::fmin(a, float(Levels::qmax)));
  const soft_point p = soft_step(a >= float(Levels::qmax) ? float(Levels::qmax) : a, lo, hi, kappa);
  return {std::copysign(p.value, x), a >= float(Levels::qmax) ? 0.0f : p.slope};
}

namespace detail {
// The levels around magnitudes a in [0, qmax], lane by lane, as Levels::bracket.
template <class Levels>
void soft_bracket(kernels::fvec a, kernels::fvec& lo, kernels::fvec& hi) {
  using kernels::fvec;
  const fvec top = kernels::broadcast(float(Levels::qmax)), one = kernels::broadcast(1.0f);
  if constexpr (Levels::uniform) {
    lo = xsimd::min(xsimd::floor(a), top);
    hi = xsimd::min(lo + one, top);
  } else {
    using ivec = xsimd::batch<std::int32_t>;
    // 2^floor(log2 a): the exponent with the mantissa cleared, as power_of_two_bracket.
    const fvec power = xsimd::bitwise_cast<fvec>(xsimd::bitwise_cast<ivec>(a) & ivec(std::int32_t(0xFF800000u)));
    const auto below_one = a < one, at_top = a >= top;
    lo = kernels::select_where(at_top, top, kernels::select_where(below_one, kernels::broadcast(0.0f), power));
    hi = kernels::select_where(at_top, top, kernels::select_where(below_one, one, power + power));
  }
}
}  // namespace detail

// out[i] = φ(x[i] / step)·out_scale and, when slope is not null, slope[i] =
// φ'(x[i] / step), for n values at once, the levels given by Levels, at
// sharpness kappa > 0. With NonNegative, inputs below 0 count as 0 and get
// slope 0 (the unsigned levels of activations after a ReLU). Vectorised;
// the last partial vector goes through a padded copy, so that every element
// takes the same path wherever a thread's chunk ends.
template <class Levels, bool NonNegative = false>
void soft_quantize_n(const float* x, std::size_t n, float step, float kappa, float out_scale, float* out,
                     float* slope) {
  using kernels::fvec;
  using kernels::broadcast;
  constexpr std::size_t w = kernels::fvec_width;
  const float t = std::tanh(0.5f * kappa);
  const fvec vstep = broadcast(step), vkappa = broadcast(kappa), vscale = broadcast(out_scale),
             half = broadcast(0.5f), half_over_t = broadcast(0.5f / t), peak = broadcast(kappa / (2.0f * t)),
             one = broadcast(1.0f), zero = broadcast(0.0f), top = broadcast(float(Levels::qmax));
  auto one_vector = [&](const float* xi, float* oi, float* si) {
    const fvec xv = kernels::load(xi);
    fvec v = xv / vstep;  // a division, as the scalar code: x · (1/s) can miss the top level by an ulp
    if constexpr (NonNegative) v = xsimd::max(v, zero);
    const fvec a = xsimd::min(xsimd::abs(v), top);
    fvec lo, hi;
    detail::soft_bracket<Levels>(a, lo, hi);
    const auto flat = hi <= lo;  // at the top level
    const fvec width = kernels::select_where(flat, one, hi - lo);
    const fvec th = xsimd::tanh(vkappa * (a - half * (lo + hi)) / width);
    const fvec value = kernels::select_where(flat, lo, lo + width * (half + th * half_over_t));
    kernels::store(oi, xsimd::copysign(value, v) * vscale);
    if (si) {
      fvec d = kernels::select_where(flat, zero, peak * (one - th * th));
      if constexpr (NonNegative) d = kernels::select_where(xv < zero, zero, d);
      kernels::store(si, d);
    }
  };
  std::size_t i = 0;
  for (; i + w <= n; i += w) one_vector(x + i, out + i, slope ? slope + i : nullptr);
  if (i < n) {
    alignas(kernels::simd_alignment) float xp[w] = {}, op[w], sp[w];
    for (std::size_t j = i; j < n; ++j) xp[j - i] = x[j];
    one_vector(xp, op, slope ? sp : nullptr);
    for (std::size_t j = i; j < n; ++j) {
      out[j] = op[j - i];
      if (slope) slope[j] = sp[j - i];
    }
  }
}

}  // namespace nibble
