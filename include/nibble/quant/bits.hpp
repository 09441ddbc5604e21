#pragma once
// Bit-width policies: how many integer levels a quantized tensor may take.
#include <string>

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
  static std::string describe() { return std::to_string(N) + "-bit"; }
};

// No quantization: the float pass-through used for FP32 baselines.
struct full_precision {
  static constexpr bool valid = true;
  static constexpr bool quantized = false;
  static constexpr int width = 32;
  static constexpr int qmax = 0;
  static constexpr int levels = 0;
  static std::string describe() { return "float"; }
};

static_assert(bit_width_policy<bits<4>>);
static_assert(bit_width_policy<bits<8>>);
static_assert(bit_width_policy<full_precision>);

}  // namespace nibble
