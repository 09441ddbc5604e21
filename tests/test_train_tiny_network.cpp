// A tiny quantized network must learn a small synthetic problem: which
// quadrant of an 8×8 image holds a bright blob. It checks that forward,
// backward, the estimator, AdamW and the post-step clip work together.
#include <catch2/catch.hpp>

#include <array>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/flatten.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/layers/max_pool2d.hpp"
#include "nibble/layers/relu.hpp"
#include "nibble/net/sequential.hpp"
#include "nibble/net/weight_statistics.hpp"
#include "nibble/quant/presets.hpp"
#include "nibble/train/optimizer.hpp"
#include "nibble/train/step.hpp"

using namespace nibble;

namespace {

template <class S>
using quadrant_net = sequential<input<1, 8, 8>, conv2d<8, 3, S>, batch_norm, relu, max_pool2d<2>, flatten,
                                linear<4, S>>;

void make_quadrant_batch(std::mt19937_64& rng, std::size_t n, activation& x, std::vector<std::int32_t>& labels) {
  std::normal_distribution<float> noise(0.0f, 0.3f);
  std::uniform_int_distribution<int> quadrant(0, 3), offset(0, 2);
  x.resize({n, 1, 8, 8});
  labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int q = quadrant(rng);
    labels[i] = q;
    for (std::size_t p = 0; p < 64; ++p) x(i, 0, p / 8, p % 8) = noise(rng);
    const int y0 = (q / 2) * 4 + offset(rng) / 2, x0 = (q % 2) * 4 + offset(rng) / 2;
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx) x(i, 0, std::size_t(y0 + dy), std::size_t(x0 + dx)) += 2.0f;
  }
}

template <class S>
double train_quadrants() {
  quadrant_net<S> net;
  std::mt19937_64 rng(7);
  net.init(rng);
  adamw opt{.weight_decay = 5e-4f};
  context ctx;
  activation x, grad;
  std::vector<std::int32_t> labels;
  for (int step = 0; step < 150; ++step) {
    make_quadrant_batch(rng, 32, x, labels);
    ctx.begin_step(std::uint64_t(step));
    ctx.progress = float(step) / 150.0f;
    train_step(net, opt, x, labels, 1e-2f, 0.5, grad, ctx);
  }
  ctx.phase = mode::eval;
  make_quadrant_batch(rng, 512, x, labels);
  return double(count_correct(net.forward(x, ctx), labels)) / 512.0;
}

}  // namespace

TEST_CASE("a tiny 4-bit network learns which quadrant is bright", "[train]") {
  CHECK(train_quadrants<paper_4bit>() > 0.95);
}

TEST_CASE("a tiny 8-bit network learns which quadrant is bright", "[train]") {
  CHECK(train_quadrants<int8_scheme>() > 0.95);
}

TEST_CASE("a tiny 4-bit network with stochastic rounding learns which quadrant is bright", "[train]") {
  CHECK(train_quadrants<with_rounding_t<paper_4bit, stochastic_rounding>>() > 0.95);
}

TEST_CASE("a tiny 4-bit network with learned steps (LSQ) learns which quadrant is bright", "[train]") {
  CHECK(train_quadrants<scheme<bits<4>, no_clip, learned_step, clipped_ste>>() > 0.95);
}

TEST_CASE("a tiny W4A4 network with learned weight and input steps (LSQ) learns which quadrant is bright", "[train]") {
  CHECK(train_quadrants<scheme<bits<4>, no_clip, learned_step, clipped_ste, learned_activation_bits<4>>>() > 0.95);
}

TEST_CASE("a tiny 4-bit network with 99th-percentile scales learns which quadrant is bright", "[train]") {
  CHECK(train_quadrants<scheme<bits<4>, tanh_clip<3.0f>, percentile_per_tensor<99.0f>, ste>>() > 0.95);
}

TEST_CASE("a tiny power-of-two 4-bit network with a soft staircase learns which quadrant is bright", "[train]") {
  CHECK(train_quadrants<scheme<power_of_two<4>, tanh_clip<3.0f>, abs_max_per_tensor, soft_staircase<0.5f, 0.02f>>>() >
        0.95);
}

TEST_CASE("an untrained tiny network is near chance on the quadrant problem", "[train]") {
  // Guards the two tests above against a problem too easy to mean anything.
  quadrant_net<paper_4bit> net;
  std::mt19937_64 rng(7);
  net.init(rng);
  context ctx{.phase = mode::eval};
  activation x;
  std::vector<std::int32_t> labels;
  make_quadrant_batch(rng, 512, x, labels);
  CHECK(double(count_correct(net.forward(x, ctx), labels)) / 512.0 < 0.6);
}

TEST_CASE("4-bit weights keep at most 15 levels and stay inside the tanh clip while training", "[train]") {
  quadrant_net<paper_4bit> net;
  std::mt19937_64 rng(3);
  net.init(rng);
  adamw opt;
  context ctx;
  activation x, grad;
  std::vector<std::int32_t> labels;
  for (int step = 0; step < 20; ++step) {
    make_quadrant_batch(rng, 16, x, labels);
    train_step(net, opt, x, labels, 0.5f, 0.0, grad, ctx);  // huge steps push weights towards the clip bound
  }
  for (std::size_t levels : distinct_weight_levels(net)) CHECK(levels <= 15);
  net.visit_parameters([](parameter& p) {
    if (p.role == parameter_role::weight)
      for (float w : p.value) CHECK(std::abs(w) < 3.0f);
  });
}

TEST_CASE("forward and train_step refuse a batch of another sample shape, naming both shapes", "[train][shape]") {
  quadrant_net<paper_4bit> net;
  std::mt19937_64 rng(3);
  net.init(rng);
  adamw opt;
  context ctx;
  activation grad;
  const std::vector<std::int32_t> labels = {0, 1};
  // Channels, height, width and a flat vector: each once read past a
  // buffer or trained silently.
  const std::vector<std::array<std::size_t, 4>> wrong = {{2, 3, 8, 8}, {2, 1, 16, 16}, {2, 64, 1, 1}, {2, 1, 4, 4}};
  for (const auto& s : wrong) {
    activation x(s, 0.5f);
    const std::string given = "(2, " + std::to_string(s[1]) + ", " + std::to_string(s[2]) + ", " +
                              std::to_string(s[3]) + ")";
    INFO("given " << given);
    CHECK_THROWS_WITH(net.forward(x, ctx), Catch::Contains("(N, 1, 8, 8)") && Catch::Contains(given));
    CHECK_THROWS_AS(train_step(net, opt, x, labels, 1e-2f, 0.5, grad, ctx), std::invalid_argument);
  }
  // The right shape still runs.
  activation x({2, 1, 8, 8}, 0.5f);
  CHECK_NOTHROW(net.forward(x, ctx));
}

TEST_CASE("count_correct refuses labels outside the classes and a label count that is not the batch", "[train]") {
  activation logits({2, 4, 1, 1}, 0.0f);
  logits(0, 1, 0, 0) = 1.0f;  // image 0 says class 1
  logits(1, 3, 0, 0) = 1.0f;  // image 1 says class 3
  CHECK(count_correct(logits, std::vector<std::int32_t>{1, 3}) == 2);
  CHECK(count_correct(logits, std::vector<std::int32_t>{1, 0}) == 1);
  CHECK_THROWS_WITH(count_correct(logits, std::vector<std::int32_t>{1, 4}),
                    Catch::Contains("label 4 of image 1 is not a class from 0 to 3"));
  CHECK_THROWS_WITH(count_correct(logits, std::vector<std::int32_t>{-1, 0}), Catch::Contains("label -1"));
  CHECK_THROWS_WITH(count_correct(logits, std::vector<std::int32_t>{1}), Catch::Contains("1 labels for 2 logits"));
}
