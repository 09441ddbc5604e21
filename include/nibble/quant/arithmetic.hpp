#pragma once
// Arithmetic policies: the precision of the products inside a layer's GEMM.
// fp32 is exact float arithmetic; bf16 rounds the operands of a
// convolution's three products (forward, input gradient, weight gradient) to
// bfloat16 while sums stay fp32 — as mixed-precision training does — which
// doubles the multiply-adds per instruction on CPUs with AVX512-BF16. On
// other CPUs bf16 runs as fp32. Linear layers always use fp32.
#include <concepts>
#include <string>

namespace nibble {

template <class T>
concept arithmetic_policy = requires {
  { T::is_arithmetic_policy } -> std::convertible_to<bool>;
  { T::bf16 } -> std::convertible_to<bool>;
  { T::describe() } -> std::convertible_to<std::string>;
};

struct fp32_arithmetic {
  static constexpr bool is_arithmetic_policy = true;
  static constexpr bool bf16 = false;
  static std::string describe() { return "fp32"; }
};

struct bf16_arithmetic {
  static constexpr bool is_arithmetic_policy = true;
  static constexpr bool bf16 = true;
  static std::string describe() { return "bf16"; }
};

static_assert(arithmetic_policy<fp32_arithmetic>);
static_assert(arithmetic_policy<bf16_arithmetic>);

}  // namespace nibble
