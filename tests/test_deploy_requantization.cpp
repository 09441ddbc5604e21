// Integer requantization (deploy/requantization.hpp): a fitted multiplier,
// shift and offset give the library's float epilogue's codes on every sum
// a filter can reach — checked sum by sum over whole ranges, for rising,
// falling and flat staircases, and for the filters of a deployed layer.
#include <catch2/catch.hpp>

#include <nibble/deploy/convert.hpp>
#include <nibble/deploy/requantization.hpp>
#include <nibble/kernels/activation_codes.hpp>
#include <nibble/kernels/scaled_sums.hpp>
#include <nibble/quant/quantized_sum.hpp>
#include <nibble/quant/presets.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "deploy_fixtures.hpp"
#include "training_fixtures.hpp"

using namespace nibble;

namespace {

// code_of(relu?(a·(s·acc + bias) + b)) in float, as an epilogue computes it.
struct float_epilogue {
  float s, bias, a, b;
  bool relu;
  kernels::code_grid grid;
  std::int32_t operator()(std::int32_t acc) const {
    float v = kernels::scaled_sum(s, float(acc), bias);
    v = std::fma(a, v, b);
    if (relu) v = v > 0.0f ? v : 0.0f;
    return std::int32_t(kernels::code_of(v, grid));
  }
  deploy::code_function function() const {
    return [*this](const std::int32_t* acc, std::int32_t* codes, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) codes[i] = (*this)(acc[i]);
    };
  }
};

// Returns how many exceptions the fit needed.
std::size_t require_equal_on_range(const float_epilogue& f, std::int32_t first, std::int32_t last) {
  const deploy::requantizer r = deploy::fit_requantizer(f.function(), first, last, 0, int(f.grid.max_code), "test");
  INFO("multiplier " << r.multiplier << ", shift " << r.shift << ", offset " << r.offset);
  std::size_t wrong = 0;
  for (std::int32_t acc = first; acc <= last; ++acc) wrong += r.apply(acc) != f(acc);
  REQUIRE(wrong == 0);
  return r.exceptions.size();
}

}  // namespace

TEST_CASE("a fitted requantization equals the float epilogue on every reachable sum", "[deploy][requantization]") {
  std::mt19937_64 rng(501);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::size_t lines = 0, with_exceptions = 0;
  for (int trial = 0; trial < 40; ++trial) {
    INFO("trial " << trial);
    const bool eight_bits = trial % 2 == 0;
    const float max_code = eight_bits ? 255.0f : 15.0f;
    float_epilogue f{.s = 1e-4f * (0.5f + unit(rng)),
                     .bias = unit(rng) - 0.5f,
                     .a = (trial % 5 == 4 ? -1.0f : 1.0f) * (0.3f + 2.0f * unit(rng)),
                     .b = unit(rng) - 0.5f,
                     .relu = trial % 3 == 0,
                     .grid = {0.01f + 0.05f * unit(rng), trial % 4 == 0 ? 0.0f : std::nearbyint(max_code * unit(rng)),
                              max_code}};
    (require_equal_on_range(f, -300000, 300000) == 0 ? lines : with_exceptions) += 1;
  }
  // Most staircases are lines (one through every threshold exists).
  CHECK(lines > 30);
  INFO(with_exceptions << " of 40 needed exceptions");
}

TEST_CASE("a staircase no line fits is requantized with exceptions", "[deploy][requantization]") {
  // Found among the random ones above (exact values, so no compiler's
  // contraction changes them): two sums of this 8-bit staircase fall on
  // the other side of a line through all its other thresholds.
  const float_epilogue f{0x1.2cde9ep-13f, -0x1.9dd198p-2f, 0x1.a3015ep-2f, -0x1.d888e4p-3f, false,
                         {0x1.357f4p-5f, 63.0f, 255.0f}};
  CHECK(require_equal_on_range(f, -300000, 300000) == 2);
}

TEST_CASE("requantization fits 16-bit codes too: a residual block's addends on their step",
          "[deploy][requantization][residual]") {
  // An addend is rounded to its block's step with codes ±255 around 255
  // (quant/quantized_sum.hpp): twice the steps of an 8-bit activation's.
  std::mt19937_64 rng(503);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (int trial = 0; trial < 6; ++trial) {
    INFO("trial " << trial);
    const float_epilogue f{.s = 1e-4f * (0.5f + unit(rng)),
                           .bias = unit(rng) - 0.5f,
                           .a = (trial % 3 == 2 ? -1.0f : 1.0f) * (0.3f + 2.0f * unit(rng)),
                           .b = unit(rng) - 0.5f,
                           .relu = false,
                           .grid = addend_grid({0.002f + 0.01f * unit(rng), 0.0f, 255.0f})};
    const std::int32_t steps = std::abs(f(300000) - f(-300000));
    INFO(steps << " steps");
    CHECK(steps > 300);
    require_equal_on_range(f, -300000, 300000);
  }
}

TEST_CASE("requantization handles flat staircases and ranges inside one step", "[deploy][requantization]") {
  // Every sum gives one code: all below zero under a ReLU.
  require_equal_on_range({1e-3f, -50.0f, 1.0f, 0.0f, true, {0.1f, 0.0f, 255.0f}}, -1000, 1000);
  // A range that crosses one threshold only.
  require_equal_on_range({1e-6f, 0.0f, 1.0f, 0.0f, false, {0.01f, 3.0f, 15.0f}}, -9000, 9000);
  // Saturating at both ends.
  require_equal_on_range({0.5f, 0.0f, 1.0f, 0.0f, false, {0.1f, 7.0f, 15.0f}}, -100, 100);
}

TEST_CASE("the requantizers of a deployed layer give its codes for every sum its filters reach",
          "[deploy][requantization]") {
  using Net = sequential<input<3, 8, 8>, conv2d<6, 3, w4a8>, batch_norm_relu, conv2d<4, 3, w4a8>>;
  auto net = fixtures::trained_looking<Net>(502);
  auto deployed = deploy::convert(*net, fixtures::test_normalisation(3));
  auto& conv = deployed->template layer<1>();
  const kernels::code_grid next = deployed->template layer<2>().grid();
  for (const bool relu_after : {false, true}) {
    const std::vector<deploy::requantizer> rs = conv.requantizers(next, relu_after);
    REQUIRE(rs.size() == 6);
    const auto& zs = conv.zero_point_sums();
    for (std::size_t r = 0; r < rs.size(); ++r) {
      INFO("filter " << r << (relu_after ? ", a ReLU after" : ""));
      // Every uncentred sum the filter can reach.
      const auto [first, last] = conv.centred_sum_range(r);
      REQUIRE(first < last);
      std::vector<std::int32_t> sums;
      for (std::int32_t acc = first; acc <= last; ++acc) sums.push_back(acc + zs[r]);
      std::vector<float> y(sums.size());
      conv.finish_row(r, sums.data(), sums.size(), y.data());
      std::size_t wrong = 0;
      for (std::size_t i = 0; i < sums.size(); ++i) {
        const float v = relu_after && !(y[i] > 0.0f) ? 0.0f : y[i];
        wrong += rs[r].apply(sums[i]) != int(kernels::code_of(v, next));
      }
      CHECK(wrong == 0);
      CHECK(zs.size() == 6);
    }
  }
}
