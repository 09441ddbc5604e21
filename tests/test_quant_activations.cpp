// Activation codes: the grid a range gives, the moving average of the
// range, the kernels that turn floats into codes, and power-of-two levels.
#include <catch2/catch.hpp>

#include <nibble/kernels/activation_codes.hpp>
#include <nibble/quant/input_quantizer.hpp>
#include <nibble/quant/soft_staircase.hpp>

#include <algorithm>
#include <cmath>
#include <initializer_list>
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
  const context train, eval{.phase = mode::eval};
  activation x({1, 1, 1, 4});
  x.data()[0] = -1.0f;
  x.data()[1] = 0.5f;
  x.data()[2] = 2.0f;
  x.data()[3] = 0.0f;
  q.encode(x, train);
  CHECK(q.range(0) == -1.0f);
  CHECK(q.range(1) == 2.0f);
  x.data()[0] = -3.0f;
  x.data()[2] = 12.0f;
  q.encode(x, train);
  CHECK(q.range(0) == Approx(-1.0f + 0.01f * (-3.0f + 1.0f)));
  CHECK(q.range(1) == Approx(2.0f + 0.01f * (12.0f - 2.0f)));
  const auto kept = q.range;
  q.encode(x, eval);
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

namespace {
using pot4 = power_of_two_activations<4>;  // soft staircase, temperature 0.5 to 0.02
using pot4_hard = power_of_two_activations<4, clipped_ste>;

activation values(std::initializer_list<float> v) {
  activation x({1, 1, 1, v.size()});
  std::copy(v.begin(), v.end(), x.begin());
  return x;
}
}  // namespace

TEST_CASE("power-of-two activations round to 0, 1, 2, ... 128 after a ReLU and to 0, +-1, ... +-64 otherwise",
          "[quant][activations][power_of_two]") {
  const context train, eval{.phase = mode::eval};
  input_quantizer<pot4_hard> q;
  // The first batch: non-negative, max 16, so the step is 16 / 128 = 1/8
  // (exact, so that the midpoints below are exact too).
  q.encode(values({0.0f, 16.0f, 0.29f, 0.31f}), train);
  CHECK(!q.is_signed());
  CHECK(q.state(0) == 16.0f);
  const float step = q.grid().step;
  CHECK(step == 0.125f);
  CHECK(q.grid().zero == 0.0f);
  CHECK(q.grid().max_code == 128.0f);
  // In code units: 0, 128, 2.9 -> 2, 3.1 -> 4 (3 is the midpoint), 0.4 -> 0,
  // 0.6 -> 1, 96 -> 128 (a tie goes up), 95 -> 64, 1000 -> 128.
  const activation& c = q.encode(values({0.0f, 16.0f, 2.9f * step, 3.1f * step, 0.4f * step, 0.6f * step,
                                         96.0f * step, 95.0f * step, 1000.0f * step}),
                                 eval);
  CHECK(std::vector<float>(c.begin(), c.end()) == std::vector<float>{0, 128, 2, 4, 0, 1, 128, 64, 128});
  CHECK(q.state(0) == 16.0f);  // eval leaves the range

  // The moving max|x| moves by 1 % per training batch.
  q.encode(values({0.0f, 22.8f}), train);
  CHECK(q.state(0) == Approx(16.0f + 0.01f * (22.8f - 16.0f)));

  // A first batch with negative inputs (a normalised image) gets the signed
  // levels of power_of_two<4>, whose top is 64.
  input_quantizer<pot4_hard> s;
  s.encode(values({-8.0f, 1.0f}), train);
  CHECK(s.is_signed());
  CHECK(s.grid().max_code == 64.0f);
  CHECK(s.grid().step == 0.125f);
  const activation& sc = s.encode(values({-8.0f, -2.5f * 0.125f, 7.0f * 0.125f, -100.0f}), eval);
  CHECK(std::vector<float>(sc.begin(), sc.end()) == std::vector<float>{-64, -2, 8, -64});

  // The clipped straight-through gradient: kept inside the range, zeroed past it.
  const activation x = values({1.0f, -9.0f, 9.0f, -3.0f});
  s.encode(x, train);  // the range moves a little: max|x| 9 against 8
  activation dx = values({1.0f, 1.0f, 1.0f, 1.0f});
  s.mask_gradient(x, dx);
  CHECK(std::vector<float>(dx.begin(), dx.end()) == std::vector<float>{1.0f, 0.0f, 0.0f, 1.0f});
}

TEST_CASE("power-of-two activations train through the soft staircase: its slope is the true derivative",
          "[quant][activations][power_of_two]") {
  using q_type = input_quantizer<pot4>;
  using after_relu = pot4::unsigned_levels;
  // The soft levels and their slopes at sharpness kappa, against central
  // differences of the same function, in steps of 1/1000 of the interval
  // (the quantizer's step is held fixed: the range is a statistic, not
  // differentiated). The kinks at 0 and at the top level are left out.
  constexpr float step = 0.05f, inv_step = 1.0f / step;
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(0.0f, 7.0f);
  std::vector<float> x(400), out(400), slope(400);
  for (auto& v : x) v = u(rng);
  for (float kappa : {2.0f, 8.0f, 25.0f}) {
    q_type::levels<after_relu, false>(x.data(), out.data(), slope.data(), x.size(), step, kappa);
    std::size_t checked = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float v = x[i] * inv_step, h = 1e-3f * std::max(1.0f, v / 2.0f);
      if (v < 3.0f * h || std::fabs(v - 128.0f) < 3.0f * h) continue;
      float up, down, unused;
      const float xu = x[i] + h / inv_step, xd = x[i] - h / inv_step;
      q_type::levels<after_relu, false>(&xu, &up, &unused, 1, step, kappa);
      q_type::levels<after_relu, false>(&xd, &down, &unused, 1, step, kappa);
      const double numeric = (double(up) - double(down)) / ((double(xu) - double(xd)) * inv_step);
      INFO("v " << v << " kappa " << kappa);
      CHECK(slope[i] == Approx(numeric).epsilon(1e-2).margin(1e-3));
      ++checked;
    }
    CHECK(checked > 350);
  }

  // In a layer: training is soft at the run's temperature, its slope
  // multiplies the gradient, and eval rounds to the hard levels.
  q_type q;
  const activation x0 = values({0.0f, 12.8f, 0.25f, 0.33f, 0.5f, 13.5f});
  const context early, late{.progress = 1.0f}, eval{.phase = mode::eval};
  const activation soft_early = q.encode(x0, early);
  const float kappa_early = 1.0f / soft_staircase<0.5f, 0.02f>::temperature(0.0f);
  for (std::size_t i = 0; i < x0.size(); ++i)
    CHECK(soft_early.data()[i] == Approx(soft_quantize<after_relu>(x0.data()[i] / q.grid().step, kappa_early).value)
                                      .epsilon(1e-6)
                                      .margin(1e-6));  // vectorised against the scalar definition
  activation dx = values({1, 1, 1, 1, 1, 1});
  q.mask_gradient(x0, dx);
  CHECK(dx.data()[5] == 0.0f);  // past the top level
  CHECK(dx.data()[3] > 0.0f);
  CHECK(dx.data()[3] != 1.0f);  // a soft slope, not a straight-through 1
  const activation soft_late = q.encode(x0, late);
  const activation hard = q.encode(x0, eval);
  const float step_now = q.grid().step;  // the range moved with the two training batches
  for (std::size_t i = 0; i < x0.size(); ++i) {
    INFO("input " << i);
    CHECK(hard.data()[i] == nearest_level<after_relu>(x0.data()[i] / step_now));
    CHECK(std::fabs(soft_late.data()[i] - hard.data()[i]) <= std::fabs(soft_early.data()[i] - hard.data()[i]) + 1e-3f);
  }
}
