// Activation codes: the grid a range gives, the moving average of the
// range, and the kernels that turn floats into codes.
#include <catch2/catch.hpp>

#include <nibble/kernels/activation_codes.hpp>
#include <nibble/quant/input_quantizer.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using namespace nibble;

TEST_CASE("an activation range gives a code grid that holds zero", "[quant][activations]") {
  input_quantizer<activation_bits<8>> q;
  q.range(0) = 0.0f;
  q.range(1) = 2.55f;
  auto g = q.grid();
  CHECK(g.step == Approx(0.01f));
  CHECK(g.zero == 0.0f);
  CHECK(g.max_code == 255.0f);

  q.range(0) = -1.0f;
  q.range(1) = 3.0f;
  g = q.grid();
  CHECK(g.step == Approx(4.0f / 255.0f));
  CHECK(g.zero == 64.0f);  // round(63.75)
  CHECK(kernels::code_of(0.0f, g) == g.zero);
  CHECK(kernels::code_of(-5.0f, g) == 0.0f);
  CHECK(kernels::code_of(5.0f, g) == 255.0f);

  // A range that leaves out zero is widened to hold it.
  q.range(0) = 0.5f;
  q.range(1) = 1.5f;
  g = q.grid();
  CHECK(g.zero == 0.0f);
  CHECK(g.step == Approx(1.5f / 255.0f));

  // Nothing seen yet: step 1, finite codes.
  q.reset();
  g = q.grid();
  CHECK(g.step == 1.0f);
  CHECK(kernels::code_of(3.0f, g) == 3.0f);

  input_quantizer<activation_bits<4>> four;
  four.range(1) = 1.5f;
  CHECK(four.grid().max_code == 15.0f);
  CHECK(four.grid().step == Approx(0.1f));
}

TEST_CASE("the activation range is set by the first training batch, then moves by 1 % per batch, and not in eval",
          "[quant][activations]") {
  input_quantizer<activation_bits<8>> q;
  activation x({1, 1, 1, 4});
  x.data()[0] = -1.0f;
  x.data()[1] = 0.5f;
  x.data()[2] = 2.0f;
  x.data()[3] = 0.0f;
  q.encode(x, true);
  CHECK(q.range(0) == -1.0f);
  CHECK(q.range(1) == 2.0f);
  x.data()[0] = -3.0f;
  x.data()[2] = 12.0f;
  q.encode(x, true);
  CHECK(q.range(0) == Approx(-1.0f + 0.01f * (-3.0f + 1.0f)));
  CHECK(q.range(1) == Approx(2.0f + 0.01f * (12.0f - 2.0f)));
  const auto kept = q.range;
  q.encode(x, false);
  CHECK((q.range == kept));
  // The codes of the eval pass lie on the grid of the kept range.
  const auto g = q.grid();
  CHECK(q.codes().data()[2] == g.max_code - g.zero);  // 12 saturates
  CHECK(q.codes().data()[3] == 0.0f);                 // zero is code z, centred 0
}

TEST_CASE("centred float codes and byte codes agree, and min_max finds the extremes", "[quant][activations]") {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.3f, 2.0f);
  std::vector<float> x(1000 + 3);
  for (auto& v : x) v = normal(rng);
  x[517] = -9.0f;
  x[1002] = 11.0f;  // in the scalar tail
  const auto [lo, hi] = kernels::min_max(x.data(), x.size());
  CHECK(lo == -9.0f);
  CHECK(hi == 11.0f);
  const kernels::code_grid g{0.05f, 100.0f, 255.0f};
  std::vector<float> centred(x.size());
  std::vector<std::uint8_t> bytes(x.size());
  kernels::centered_codes(x.data(), centred.data(), x.size(), g);
  kernels::byte_codes(x.data(), bytes.data(), x.size(), g);
  for (std::size_t i = 0; i < x.size(); ++i) {
    INFO("entry " << i << ", x = " << x[i]);
    REQUIRE(float(bytes[i]) - g.zero == centred[i]);
    REQUIRE(float(bytes[i]) == std::clamp(std::nearbyint(x[i] / g.step) + g.zero, 0.0f, 255.0f));
  }
  // The gradient mask keeps exactly the entries whose codes did not clamp.
  std::vector<float> dx(x.size(), 1.0f);
  kernels::mask_outside_grid(x.data(), dx.data(), x.size(), g);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float c = std::nearbyint(x[i] / g.step) + g.zero;
    REQUIRE(dx[i] == ((c >= 0.0f && c <= 255.0f) ? 1.0f : 0.0f));
    kept += dx[i] == 1.0f;
  }
  CHECK(kept > x.size() / 2);
  CHECK(kept < x.size());
}
