#pragma once
// The soft staircase of quant/soft_staircase.hpp (a tanh between
// neighbouring levels, its true derivative), as a vector loop: φ and φ'
// for n values at once. Levels is the scheme's level set (a type with
// qmax, uniform and, for power-of-two levels, the same brackets as
// Levels::bracket), read as a template argument only.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

namespace detail {
// The levels around magnitudes a in [0, qmax], lane by lane, as Levels::bracket.
template <class Levels>
void soft_bracket(fvec a, fvec& lo, fvec& hi) {
  const fvec top = broadcast(float(Levels::qmax)), one = broadcast(1.0f);
  if constexpr (Levels::uniform) {
    lo = xsimd::min(xsimd::floor(a), top);
    hi = xsimd::min(lo + one, top);
  } else {
    using ivec = xsimd::batch<std::int32_t>;
    // 2^floor(log2 a): the exponent with the mantissa cleared, as power_of_two_bracket.
    const fvec power = xsimd::bitwise_cast<fvec>(xsimd::bitwise_cast<ivec>(a) & ivec(std::int32_t(0xFF800000u)));
    const auto below_one = a < one, at_top = a >= top;
    lo = select_where(at_top, top, select_where(below_one, broadcast(0.0f), power));
    hi = select_where(at_top, top, select_where(below_one, one, power + power));
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
  constexpr std::size_t w = fvec_width;
  const float t = std::tanh(0.5f * kappa);
  const fvec vstep = broadcast(step), vkappa = broadcast(kappa), vscale = broadcast(out_scale),
             half = broadcast(0.5f), half_over_t = broadcast(0.5f / t), peak = broadcast(kappa / (2.0f * t)),
             one = broadcast(1.0f), zero = broadcast(0.0f), top = broadcast(float(Levels::qmax));
  auto one_vector = [&](const float* xi, float* oi, float* si) {
    const fvec xv = load(xi);
    fvec v = xv / vstep;  // a division, as the scalar code: x · (1/s) can miss the top level by an ulp
    if constexpr (NonNegative) v = xsimd::max(v, zero);
    const fvec a = xsimd::min(xsimd::abs(v), top);
    fvec lo, hi;
    detail::soft_bracket<Levels>(a, lo, hi);
    const auto flat = hi <= lo;  // at the top level
    const fvec width = select_where(flat, one, hi - lo);
    const fvec th = xsimd::tanh(vkappa * (a - half * (lo + hi)) / width);
    const fvec value = select_where(flat, lo, lo + width * (half + th * half_over_t));
    store(oi, xsimd::copysign(value, v) * vscale);
    if (si) {
      fvec d = select_where(flat, zero, peak * (one - th * th));
      if constexpr (NonNegative) d = select_where(xv < zero, zero, d);
      store(si, d);
    }
  };
  std::size_t i = 0;
  for (; i + w <= n; i += w) one_vector(x + i, out + i, slope ? slope + i : nullptr);
  if (i < n) {
    alignas(simd_alignment) float xp[w] = {}, op[w], sp[w];
    for (std::size_t j = i; j < n; ++j) xp[j - i] = x[j];
    one_vector(xp, op, slope ? sp : nullptr);
    for (std::size_t j = i; j < n; ++j) {
      out[j] = op[j - i];
      if (slope) slope[j] = sp[j - i];
    }
  }
}

}  // namespace nibble::kernels
