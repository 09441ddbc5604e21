// Stochastic rounding: each weight lands on one of its two neighbouring
// levels, unbiased on average, reproducibly from (key, index) whatever the
// threads; layers draw a key per training step from the context and round
// to nearest in evaluation.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "nibble/core/counter_random.hpp"
#include "nibble/kernels/elementwise.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/quant/presets.hpp"

using namespace nibble;

namespace {
using stochastic_4bit = with_rounding_t<paper_4bit, stochastic_rounding>;

std::vector<float> gaussian(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}
}  // namespace

TEST_CASE("uniform01 lies in 0 <= u < 1, spreads evenly, and is a pure function of key and index", "[quant][rounding]") {
  double sum = 0;
  int low = 0;
  for (std::uint64_t i = 0; i < 100000; ++i) {
    const float u = uniform01(7, i);
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    sum += u;
    low += u < 0.25f;
  }
  CHECK(sum / 100000 == Approx(0.5).margin(0.005));
  CHECK(low / 100000.0 == Approx(0.25).margin(0.005));
  CHECK(uniform01(7, 12) == uniform01(7, 12));
  CHECK(uniform01(7, 12) != uniform01(8, 12));
  CHECK(derive_key(1, 2, 3) != derive_key(1, 3, 2));
}

TEST_CASE("stochastic fake quantization picks a neighbouring level, unbiased, clamped", "[quant][rounding]") {
  const float s = 0.25f, qmax = 7;
  const std::vector<float> w{0.3f, -0.3f, 0.5f, 1.7f, -1.74f, 5.0f, -5.0f, 0.0f, 0.125f};
  std::vector<float> wq(w.size()), mean(w.size(), 0.0f);
  const int keys = 20000;
  for (int k = 0; k < keys; ++k) {
    kernels::fake_quantize_stochastic(w.data(), wq.data(), w.size(), s, qmax, std::uint64_t(k), 0);
    for (std::size_t i = 0; i < w.size(); ++i) {
      const float lo = std::clamp(std::floor(w[i] / s), -qmax, qmax) * s;
      const float hi = std::clamp(std::ceil(w[i] / s), -qmax, qmax) * s;
      REQUIRE((wq[i] == lo || wq[i] == hi));
      mean[i] += wq[i] / float(keys);
    }
    REQUIRE(wq[2] == 0.5f);  // a level is kept exactly
    REQUIRE(wq[7] == 0.0f);
  }
  for (std::size_t i : {0u, 1u, 3u, 4u, 8u}) CHECK(mean[i] == Approx(w[i]).margin(0.01));  // unbiased inside
  CHECK(mean[5] == Approx(qmax * s));     // clamped at the largest level
  CHECK(mean[6] == Approx(-qmax * s));
}

TEST_CASE("stochastic fake quantization depends only on key and index, not on the split", "[quant][rounding]") {
  const std::vector<float> w = gaussian(200000, 3);  // large enough to run on every thread
  std::vector<float> whole(w.size()), parts(w.size()), other(w.size()), nearest(w.size());
  kernels::fake_quantize_stochastic(w.data(), whole.data(), w.size(), 0.5f, 7, 42, 0);
  const std::size_t half = 70001;
  kernels::fake_quantize_stochastic(w.data(), parts.data(), half, 0.5f, 7, 42, 0);
  kernels::fake_quantize_stochastic(w.data() + half, parts.data() + half, w.size() - half, 0.5f, 7, 42, half);
  CHECK(whole == parts);
  kernels::fake_quantize_stochastic(w.data(), other.data(), w.size(), 0.5f, 7, 43, 0);
  CHECK(whole != other);
  kernels::fake_quantize(w.data(), nearest.data(), w.size(), 0.5f, 7);
  std::size_t same = 0;
  for (std::size_t i = 0; i < w.size(); ++i) same += whole[i] == nearest[i];
  // Fractions of w / s spread evenly (few weights reach the clamp at 3.5):
  // nearest and stochastic agree on about 3/4 of them.
  CHECK(double(same) / double(w.size()) == Approx(0.75).margin(0.02));
}

TEST_CASE("a stochastic-rounding layer draws per training step and rounds to nearest in eval", "[quant][rounding]") {
  using stochastic_layer = conv2d<4, 3, stochastic_4bit>::bind<shape<3, 6, 6>>;
  using nearest_layer = conv2d<4, 3, paper_4bit>::bind<shape<3, 6, 6>>;
  stochastic_layer a;
  nearest_layer b;
  std::mt19937_64 rng(1);
  a.init(rng);
  b.weight.value = a.weight.value;
  context ctx{.seed = 9};
  ctx.begin_step(5);
  a.quantize_weights(ctx);
  const std::vector<float> step5 = a.quantized_weights();
  ctx.begin_step(5);
  a.quantize_weights(ctx);
  CHECK(a.quantized_weights() == step5);  // the same step draws the same
  ctx.begin_step(6);
  a.quantize_weights(ctx);
  CHECK(a.quantized_weights() != step5);
  context other_seed{.seed = 10};
  other_seed.begin_step(5);
  a.quantize_weights(other_seed);
  CHECK(a.quantized_weights() != step5);

  b.quantize_weights();
  context eval{.phase = mode::eval, .seed = 9};
  a.quantize_weights(eval);
  CHECK(a.quantized_weights() == b.quantized_weights());
  a.quantize_weights();  // statistics and deployment
  CHECK(a.quantized_weights() == b.quantized_weights());
  CHECK(stochastic_4bit::describe() == paper_4bit::describe() + ", stochastic rounding");
}
