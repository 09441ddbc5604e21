// Power-of-two levels and the soft staircase: the levels and how a value
// is rounded to them; the soft function's derivative against finite
// differences; its limits (identity when hot, the staircase when cold); the
// temperature schedule; and a network trained with both.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "nibble/layers/conv2d.hpp"
#include "nibble/quant/presets.hpp"
#include "nibble/quant/soft_staircase.hpp"

using namespace nibble;

namespace {
using pot4 = scheme<power_of_two<4>, no_clip, abs_max_per_tensor, ste>;
using pot4_soft = scheme<power_of_two<4>, no_clip, abs_max_per_tensor, soft_staircase<1.0f, 0.01f>>;
using pot4_stochastic = with_rounding_t<pot4, stochastic_rounding>;
}  // namespace

TEST_CASE("power-of-two levels: 0 and +-2^k, rounded to the nearest, clamped", "[quant][power_of_two]") {
  CHECK(power_of_two<4>::describe() == "4-bit power-of-two");
  const std::vector<std::pair<float, float>> cases{{0.0f, 0.0f},  {0.4f, 0.0f},   {0.6f, 1.0f},   {1.4f, 1.0f},
                                                   {1.6f, 2.0f},  {2.9f, 2.0f},   {3.1f, 4.0f},   {47.0f, 32.0f},
                                                   {49.0f, 64.0f}, {64.0f, 64.0f}, {500.0f, 64.0f}, {-5.9f, -4.0f},
                                                   {-6.1f, -8.0f}};
  for (const auto& [x, level] : cases) {
    INFO("x = " << x);
    CHECK(pot4::nearest_code(x) == level);
  }
  // With abs-max scaling the largest weight is the top level, 64 code units.
  const std::vector<float> w{1.0f, -0.5f, 0.26f, 0.2f, 0.1f, 0.004f};
  std::vector<float> wq(w.size());
  float s = 0;
  pot4::quantize(w.data(), wq.data(), 1, w.size(), &s);
  CHECK(s == 1.0f / 64.0f);
  const std::vector<float> expected{1.0f, -0.5f, 0.25f, 0.25f, 0.125f, 0.0f};  // 0.2 = 12.8 units: nearer 16 than 8
  CHECK(wq == expected);
  CHECK(pot4::code(0.1f, s) == 8);
}

TEST_CASE("stochastic rounding between power-of-two levels is unbiased", "[quant][power_of_two]") {
  const std::vector<float> w{1.0f, 0.3f, -0.1f};  // 0.3 = 19.2 units: between 16 and 32
  std::vector<float> wq(3);
  double mean = 0;
  for (std::uint64_t k = 0; k < 20000; ++k) {
    float s = 0;
    pot4_stochastic::quantize(w.data(), wq.data(), 1, 3, &s, &k);
    REQUIRE((wq[1] == 0.25f || wq[1] == 0.5f));
    REQUIRE((wq[2] == -0.0625f || wq[2] == -0.125f));
    mean += wq[1] / 20000.0;
  }
  CHECK(mean == Approx(0.3).margin(0.003));
}

TEST_CASE("the soft staircase's derivative is its true derivative (finite differences)", "[quant][soft]") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> pick(-70.0f, 70.0f), small(-3.0f, 3.0f);
  for (float temperature : {1.0f, 0.3f, 0.1f}) {
    const float kappa = 1.0f / temperature;
    for (int i = 0; i < 400; ++i) {
      const float x = i % 2 ? pick(rng) : small(rng);
      // Relative steps: the intervals of power-of-two levels grow with |x|.
      const double h = 1e-3 * std::max(1.0, std::fabs(double(x)) / 4.0);
      auto f = [&](double v) { return double(soft_quantize<power_of_two<4>>(float(v), kappa).value); };
      auto g = [&](double v) { return double(soft_quantize<bits<4>>(float(v), kappa).value); };
      const double numeric = (f(x + h) - f(x - h)) / (2 * h), numeric_uniform = (g(x + h) - g(x - h)) / (2 * h);
      INFO("x = " << x << ", temperature " << temperature);
      if (std::fabs(std::fabs(x) - 64.0f) > 2 * h)  // the kink where it saturates
        CHECK(soft_quantize<power_of_two<4>>(x, kappa).slope == Approx(numeric).margin(2e-3).epsilon(2e-3));
      if (std::fabs(std::fabs(x) - 7.0f) > 2 * h)
        CHECK(soft_quantize<bits<4>>(x, kappa).slope == Approx(numeric_uniform).margin(2e-3).epsilon(2e-3));
    }
  }
}

TEST_CASE("the soft staircase is odd, meets every level, nears the identity hot and rounding cold", "[quant][soft]") {
  for (float x : {0.0f, 1.0f, 2.0f, 4.0f, 32.0f, 64.0f, -8.0f})
    CHECK(soft_quantize<power_of_two<4>>(x, 3.0f).value == Approx(x));  // levels are fixed points
  for (float x : {0.3f, 1.7f, 5.0f, 40.0f})
    CHECK(soft_quantize<power_of_two<4>>(-x, 3.0f).value == -soft_quantize<power_of_two<4>>(x, 3.0f).value);
  // Hot (temperature 100): almost the identity inside the range.
  for (float x : {0.3f, 1.7f, 5.0f, 40.0f}) CHECK(soft_quantize<power_of_two<4>>(x, 0.01f).value == Approx(x).epsilon(1e-3));
  // Cold (temperature 0.002): the nearest level, away from the midpoints.
  for (float x : {0.3f, 1.3f, 2.9f, 5.0f, 40.0f, 100.0f, -0.7f})
    CHECK(soft_quantize<power_of_two<4>>(x, 500.0f).value == Approx(pot4::nearest_code(x)).margin(1e-4));
  CHECK(soft_quantize<power_of_two<4>>(100.0f, 3.0f).slope == 0.0f);  // saturated
}

TEST_CASE("the soft staircase's temperature falls from T0 to T1 geometrically over training", "[quant][soft]") {
  using E = soft_staircase<1.0f, 0.01f>;
  CHECK(E::temperature(0.0f) == 1.0f);
  CHECK(E::temperature(1.0f) == Approx(0.01f));
  CHECK(E::temperature(0.5f) == Approx(0.1f));
  CHECK(E::temperature(2.0f) == Approx(0.01f));  // clamped
  static_assert(!is_valid_scheme<power_of_two<4>, no_clip, abs_max_per_tensor, soft_staircase<0.1f, 1.0f>>);
  static_assert(!is_valid_scheme<power_of_two<5>, no_clip, abs_max_per_tensor, ste>);
  static_assert(!is_valid_scheme<power_of_two<4>, no_clip, learned_step, clipped_ste>);
  static_assert(!is_valid_scheme<bits<4>, no_clip, abs_max_per_tensor, soft_staircase<1.0f, 0.1f>, stochastic_rounding>);
  CHECK(pot4_soft::describe() == "4-bit power-of-two, abs-max scale per tensor, no clip, soft staircase "
                                 "(temperature 1 to 0.01), fp32 products");
}

TEST_CASE("a soft-staircase layer is soft in training, by the run's progress, and hard in eval", "[quant][soft]") {
  using layer = conv2d<4, 3, pot4_soft>::bind<shape<3, 6, 6>>;
  using hard_layer = conv2d<4, 3, pot4>::bind<shape<3, 6, 6>>;
  layer a;
  hard_layer b;
  std::mt19937_64 rng(2);
  a.init(rng);
  b.weight.value = a.weight.value;
  b.quantize_weights();
  context early, late{.progress = 1.0f}, eval{.phase = mode::eval};
  a.quantize_weights(early);
  const std::vector<float> soft_early = a.quantized_weights();
  a.quantize_weights(late);
  const std::vector<float> soft_late = a.quantized_weights();
  a.quantize_weights(eval);
  CHECK(a.quantized_weights() == b.quantized_weights());
  double early_gap = 0, late_gap = 0;
  for (std::size_t i = 0; i < soft_early.size(); ++i) {
    early_gap += std::fabs(soft_early[i] - b.quantized_weights()[i]);
    late_gap += std::fabs(soft_late[i] - b.quantized_weights()[i]);
  }
  CHECK(early_gap > 10 * late_gap);  // annealed towards the staircase
  CHECK(late_gap > 0);
}
