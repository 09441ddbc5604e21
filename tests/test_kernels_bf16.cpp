// bf16 arithmetic: the rounding itself, and convolutions whose products are
// bf16 agreeing with fp32 ones to bf16 accuracy.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "convolution_reference.hpp"
#include "nibble/kernels/bf16.hpp"
#include "nibble/kernels/direct_conv.hpp"
#include "nibble/kernels/direct_weight_gradient.hpp"
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
template <class in_shape, std::size_t Filters = 6>
void check_bf16_convolution() {
  conv2d_layer<in_shape, Filters, 3, paper_4bit, 1, 1> exact;
  conv2d_layer<in_shape, Filters, 3, paper_4bit_bf16, 1, 1> rounded;
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
  // 32 channels and 32 filters: forward, input and weight gradient on AMX
  // tiles where the machine has them.
  check_bf16_convolution<shape<32, 8, 8>, 32>();
  check_bf16_convolution<shape<32, 16, 16>, 32>();
}

namespace {
// A direct convolution's forward and weight gradient on one path.
struct direct_results {
  std::vector<float> y, dw;
};

direct_results direct_bf16(const kernels::conv_geometry& g, std::size_t filters, std::size_t batch,
                           const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& bias,
                           const std::vector<float>& dy, bool tiles) {
  kernels::direct_conv<true> conv;
  kernels::direct_weight_gradient<true> gradient;
  direct_results r{std::vector<float>(batch * filters * g.col_cols()), std::vector<float>(w.size())};
  conv.forward(g, filters, batch, x.data(), w.data(), bias.data(), r.y.data(), tiles);
  gradient.compute(g, filters, batch, x.data(), dy.data(), r.dw.data(), tiles);
  return r;
}

// y and dW summed in double, straight from the definitions.
direct_results direct_reference(const kernels::conv_geometry& g, std::size_t filters, std::size_t batch,
                                const std::vector<float>& x, const std::vector<float>& w,
                                const std::vector<float>& bias, const std::vector<float>& dy) {
  const fixtures::reference r = fixtures::convolve(g, filters, batch, x, w, bias, dy);
  return {r.y, r.dw};
}

template <class Draw>
std::vector<float> drawn(std::size_t n, Draw draw) {
  std::vector<float> v(n);
  for (auto& e : v) e = draw();
  return v;
}
}  // namespace

TEST_CASE("bf16 direct convolution on AMX tiles equals the AVX512-BF16 kernels bit for bit on integer operands",
          "[kernels][bf16][amx]") {
  INFO("AMX usable: " << kernels::amx_usable() << "; " << kernels::describe_machine());
  struct geometry_case {
    kernels::conv_geometry g;
    std::size_t filters;
  };
  // Rows of 16 and 32 pixels (runs within rows), of 8 (runs of padded
  // positions), and a 5 × 5 kernel.
  const geometry_case cases[] = {{{32, 16, 16, 3, 1, 1}, 32},
                                 {{64, 8, 8, 3, 1, 1}, 64},
                                 {{32, 8, 32, 3, 1, 1}, 32},
                                 {{32, 12, 16, 5, 1, 2}, 32}};
  for (const auto& [g, filters] : cases) {
    INFO("channels " << g.channels << ", " << g.height << " x " << g.width << ", kernel " << g.kernel);
    if (!kernels::detected_features().wide_floats || !kernels::direct_conv_fits(g)) {  // 16-float vectors
      WARN("this build has no direct kernels: nothing to compare");
      return;
    }
    const std::size_t batch = 3;
    std::mt19937 rng(5);
    // Small integers: every product and partial sum is exact in fp32, so
    // any order of the sums gives the same result.
    std::uniform_int_distribution<int> code(-7, 7), pixel(-3, 3);
    const auto x = drawn(batch * g.channels * g.height * g.width, [&] { return float(pixel(rng)); });
    const auto w = drawn(filters * g.channels * g.kernel * g.kernel, [&] { return float(code(rng)); });
    const auto bias = drawn(filters, [&] { return float(code(rng)); });
    const auto dy = drawn(batch * filters * g.col_cols(), [&] { return float(pixel(rng)); });
    const direct_results expected = direct_reference(g, filters, batch, x, w, bias, dy);
    for (const bool tiles : {false, kernels::detected_features().bf16_tiles}) {
      INFO("on AMX tiles: " << tiles);
      const direct_results r = direct_bf16(g, filters, batch, x, w, bias, dy, tiles);
      CHECK(r.y == expected.y);
      CHECK(r.dw == expected.dw);
    }
  }
}

TEST_CASE("bf16 direct convolution on AMX tiles agrees with the AVX512-BF16 kernels on real-valued operands",
          "[kernels][bf16][amx]") {
  // The same bf16 products summed in another order: equal to fp32 rounding.
  const kernels::conv_geometry g{64, 16, 16, 3, 1, 1};
  const std::size_t filters = 32, batch = 2;
  if (!kernels::detected_features().wide_floats || !kernels::direct_conv_fits(g)) {
    WARN("this build has no direct kernels: nothing to compare");
    return;
  }
  std::mt19937 rng(8);
  std::normal_distribution<float> normal;
  const auto x = drawn(batch * g.channels * g.height * g.width, [&] { return normal(rng); });
  const auto w = drawn(filters * g.channels * 9, [&] { return normal(rng); });
  const auto bias = drawn(filters, [&] { return normal(rng); });
  const auto dy = drawn(batch * filters * g.col_cols(), [&] { return normal(rng); });
  const direct_results tiles = direct_bf16(g, filters, batch, x, w, bias, dy, kernels::detected_features().bf16_tiles);
  const direct_results vectors = direct_bf16(g, filters, batch, x, w, bias, dy, false);
  const direct_results exact = direct_reference(g, filters, batch, x, w, bias, dy);
  auto largest_difference = [](const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0;
    for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
    return d;
  };
  CHECK(largest_difference(tiles.y, vectors.y) < 1e-4);
  CHECK(largest_difference(tiles.dw, vectors.dw) < 1e-3);
  if (kernels::bf16_available) {  // and both are bf16, not fp32, products
    CHECK(largest_difference(tiles.y, exact.y) > 1e-3);
    CHECK(largest_difference(tiles.dw, exact.dw) > 1e-3);
  }
}
