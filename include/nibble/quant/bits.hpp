#pragma once
// Bit-width policies: which integer levels (codes) a quantized tensor may
// take. A code c stands for c · s, s the scale. The levels are uniform
// (bits<N>: every integer up to qmax) or powers of two (power_of_two<N>:
// 0 and ±2^k, so that a product is a shift). bracket(a) gives the levels
// below and above a magnitude a in [0, qmax], which is all that rounding,
// stochastic rounding and the soft quantizer need to know of them.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <string>
#include <utility>

#include "nibble/quant/concepts.hpp"

namespace nibble {

// Narrow symmetric signed levels -(2^(N-1)-1) ... 2^(N-1)-1: 15 levels for
// 4 bits, 255 for 8. The most negative code is left unused so that the
// levels are symmetric and zero is exact.
template <int N>
struct bits {
  static constexpr bool valid = (N >= 2 && N <= 8);
  static constexpr bool quantized = true;
  static constexpr int width = N;
  static constexpr int qmax = valid ? (1 << (N - 1)) - 1 : 0;  // guarded: bits<0> is invalid, not ill-formed
  static constexpr int levels = 2 * qmax + 1;
  static constexpr bool uniform = true;
  static std::string describe() { return std::to_string(N) + "-bit"; }
  static std::pair<float, float> bracket(float a) {
    const float lo = std::min(std::floor(a), float(qmax));
    return {lo, std::min(lo + 1.0f, float(qmax))};
  }
};

// The power-of-two levels around a magnitude a >= 0, for levels 0, 1, 2, 4,
// … qmax (qmax a power of two): {0, 1} below 1, {qmax, qmax} at or past
// the top, else 2^floor(log2 a) and twice that.
inline std::pair<float, float> power_of_two_bracket(float a, float qmax) {
  if (a >= qmax) return {qmax, qmax};
  if (a < 1.0f) return {0.0f, 1.0f};
  // 2^floor(log2 a): a's exponent with its mantissa cleared (a >= 1 is normal).
  const float lo = std::bit_cast<float>(std::bit_cast<std::uint32_t>(a) & 0xFF800000u);
  return {lo, 2.0f * lo};
}

// The nearest level to a magnitude a >= 0 among Levels' (clamped to qmax);
// ties go to the larger level.
template <class Levels>
float nearest_level(float a) {
  const float c = std::fmin(a, float(Levels::qmax));
  const auto [lo, hi] = Levels::bracket(c);
  return c - lo < hi - c ? lo : hi;
}

// Power-of-two levels: 0 and ±2^k for k = 0 … 2^(N−1) − 2, in code units;
// with abs-max scaling the largest, 2^(2^(N−1)−2), is max|W| and the
// others halve down from it. 4 bits: 15 levels, codes 0, ±1, ±2, … ±64
// (int8 codes for integer arithmetic); 3 bits: 0, ±1, ±2, ±4; 2 bits:
// 0, ±1 (ternary). N is at most 4, so that the codes fit int8.
template <int N>
struct power_of_two {
  static constexpr bool valid = (N >= 2 && N <= 4);
  static constexpr bool quantized = true;
  static constexpr int width = N;
  static constexpr int magnitudes = valid ? (1 << (N - 1)) - 1 : 1;  // nonzero magnitudes: 7 for 4 bits
  static constexpr int qmax = 1 << (magnitudes - 1);
  static constexpr int levels = 2 * magnitudes + 1;
  static constexpr bool uniform = false;
  static std::string describe() { return std::to_string(N) + "-bit power-of-two"; }
  static std::pair<float, float> bracket(float a) { return power_of_two_bracket(a, float(qmax)); }
};

// No quantization: the float pass-through used for FP32 baselines.
struct full_precision {
  static constexpr bool valid = true;
  static constexpr bool quantized = false;
  static constexpr int width = 32;
  static constexpr int qmax = 0;
  static constexpr int levels = 0;
  static constexpr bool uniform = true;
  static std::string describe() { return "float"; }
  static std::pair<float, float> bracket(float a) { return {a, a}; }
};

static_assert(bit_width_policy<bits<4>>);
static_assert(bit_width_policy<bits<8>>);
static_assert(bit_width_policy<full_precision>);
static_assert(bit_width_policy<power_of_two<4>> && power_of_two<4>::qmax == 64 && power_of_two<4>::levels == 15);
static_assert(power_of_two<2>::qmax == 1 && power_of_two<2>::levels == 3);
static_assert(!bit_width_policy<power_of_two<5>>);

}  // namespace nibble
