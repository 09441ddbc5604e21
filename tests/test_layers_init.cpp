// The initial weights of conv2d and linear under each init policy.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include <nibble/layers/conv2d.hpp>
#include <nibble/layers/init.hpp>
#include <nibble/layers/linear.hpp>
#include <nibble/quant/presets.hpp>

using namespace nibble;

namespace {
template <class L>
std::pair<double, double> mean_and_variance(L& layer) {
  double sum = 0, squares = 0;
  for (float w : layer.weight.value) {
    sum += w;
    squares += double(w) * w;
  }
  const double n = double(layer.weight.value.size()), mean = sum / n;
  return {mean, squares / n - mean * mean};
}
}  // namespace

TEST_CASE("paper_init: He normal for conv2d, N(0, 1/fan-in) for linear; zero bias", "[layers][init]") {
  conv2d<64, 3, float32_scheme>::bind<shape<32, 8, 8>> conv;  // fan-in 288
  linear<256, float32_scheme>::bind<shape<512, 1, 1>> fc;
  std::mt19937_64 rng(5);
  conv.init(rng);
  fc.init(rng);
  CHECK(mean_and_variance(conv).second == Approx(2.0 / 288).epsilon(0.05));
  CHECK(mean_and_variance(fc).second == Approx(1.0 / 512).epsilon(0.05));
  for (float b : conv.bias.value) CHECK(b == 0.0f);
}

TEST_CASE("torch_uniform_init: U(-1/sqrt(fan-in), 1/sqrt(fan-in)) for both, as PyTorch's default", "[layers][init]") {
  conv2d<64, 3, float32_scheme, 1, 1, torch_uniform_init>::bind<shape<32, 8, 8>> conv;
  linear<256, float32_scheme, torch_uniform_init>::bind<shape<512, 1, 1>> fc;
  std::mt19937_64 rng(5);
  conv.init(rng);
  fc.init(rng);
  for (auto [variance, fan_in] : {std::pair{mean_and_variance(conv).second, 288.0},
                                  std::pair{mean_and_variance(fc).second, 512.0}})
    CHECK(variance == Approx(1.0 / (3 * fan_in)).epsilon(0.05));
  float top = 0;
  for (float w : conv.weight.value) top = std::max(top, std::abs(w));
  CHECK(top <= 1.0f / std::sqrt(288.0f));
  CHECK(top > 0.99f / std::sqrt(288.0f));
  for (float b : fc.bias.value) CHECK(b == 0.0f);
  CHECK(decltype(conv)::describe().find("init U(") != std::string::npos);
}
