// bf16 arithmetic: the rounding itself, and convolutions whose products are
// bf16 agreeing with fp32 ones to bf16 accuracy.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "nibble/kernels/bf16.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/quant/presets.hpp"

using namespace nibble;

TEST_CASE("bf16 rounding is round-to-nearest-even on the 8-bit mantissa", "[kernels][bf16]") {
  CHECK(kernels::bf16_round(1.0f) == 1.0f);
  CHECK(kernels::bf16_round(-2.5f) == -2.5f);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even one (1).
  CHECK(kernels::bf16_round(1.0f + std::ldexp(1.0f, -8)) == 1.0f);
  // 1 + 3·2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6.
  CHECK(kernels::bf16_round(1.0f + 3 * std::ldexp(1.0f, -8)) == 1.0f + std::ldexp(1.0f, -6));
  CHECK(kernels::bf16_round(1.0f + std::ldexp(1.0f, -7)) == 1.0f + std::ldexp(1.0f, -7));
  // Quantized 4-bit weight codes are exact.
  for (int code = -7; code <= 7; ++code) CHECK(kernels::bf16_round(float(code)) == float(code));
  const std::uint32_t pair = kernels::bf16_pair(1.0f, -2.0f);
  CHECK((pair & 0xFFFFu) == 0x3F80u);
  CHECK((pair >> 16) == 0xC000u);
}

TEST_CASE("bf16 pair packing of rows matches the scalar rounding", "[kernels][bf16]") {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> even(40), odd(40);
  for (auto& v : even) v = normal(rng);
  for (auto& v : odd) v = normal(rng);
  std::vector<std::uint32_t> out(40);
  kernels::pack_bf16_rows(even.data(), odd.data(), out.data(), 40);
  for (std::size_t j = 0; j < 40; ++j) CHECK(out[j] == kernels::bf16_pair(even[j], odd[j]));
}

namespace {
template <class in_shape>
void check_bf16_convolution() {
  conv2d_layer<in_shape, 6, 3, paper_4bit, 1, 1> exact;
  conv2d_layer<in_shape, 6, 3, paper_4bit_bf16, 1, 1> rounded;
  std::mt19937_64 rng(11);
  exact.init(rng);
  rounded.weight.value = exact.weight.value;
  rounded.bias.value = exact.bias.value;
  std::normal_distribution<float> normal;
  activation x, y1, y2, dy, dx1, dx2;
  ensure_batch_shape<in_shape>(x, 3);
  for (auto& v : x) v = normal(rng);
  ensure_batch_shape<typename decltype(exact)::output_shape>(y1, 3);
  ensure_batch_shape<typename decltype(exact)::output_shape>(y2, 3);
  ensure_batch_shape<in_shape>(dx1, 3);
  ensure_batch_shape<in_shape>(dx2, 3);
  context ctx;
  exact.forward(x, y1, ctx);
  rounded.forward(x, y2, ctx);
  dy = y1;
  for (auto& v : dy) v = normal(rng);
  exact.backward(x, y1, dy, &dx1, ctx);
  rounded.backward(x, y2, dy, &dx2, ctx);

  auto relative_error = [](const auto& a, const auto& b) {
    double num = 0, den = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      num += (double(a.data()[i]) - double(b.data()[i])) * (double(a.data()[i]) - double(b.data()[i]));
      den += double(a.data()[i]) * double(a.data()[i]);
    }
    return std::sqrt(num / den);
  };
  CHECK(relative_error(y1, y2) < 1e-2);
  CHECK(relative_error(dx1, dx2) < 1e-2);
  CHECK(relative_error(exact.weight.grad, rounded.weight.grad) < 1e-2);
  if (kernels::bf16_available) {  // the bf16 paths really ran
    CHECK(relative_error(y1, y2) > 0.0);
    CHECK(relative_error(dx1, dx2) > 0.0);
    CHECK(relative_error(exact.weight.grad, rounded.weight.grad) > 0.0);
  }
}
}  // namespace

TEST_CASE("a bf16 convolution agrees with the fp32 one to bf16 accuracy, forward and backward", "[kernels][bf16]") {
  check_bf16_convolution<shape<5, 9, 7>>();    // rows of 7 pixels: im2col packing and GEMM
  check_bf16_convolution<shape<3, 16, 16>>();  // rows of 16 and 32 pixels: the direct kernel
  check_bf16_convolution<shape<2, 6, 32>>();
  // 16 channels and more: the direct weight gradient, with odd padded
  // widths (odd tap offsets, read from the odd-pair copy) and even ones.
  check_bf16_convolution<shape<20, 7, 9>>();
  check_bf16_convolution<shape<16, 16, 16>>();
  check_bf16_convolution<shape<32, 8, 8>>();
}
