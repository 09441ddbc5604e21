// Scaling policies beyond abs-max: the percentile scale and the learned
// step (LSQ): its start, its gradient formula, and a network that trains
// its steps and keeps them in checkpoints.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "nibble/data/batch_loader.hpp"
#include "nibble/io/checkpoint.hpp"
#include "nibble/quant/learned_step.hpp"
#include "nibble/quant/presets.hpp"
#include "nibble/train/optimizer.hpp"
#include "nibble/train/step.hpp"
#include "training_fixtures.hpp"

using namespace nibble;

namespace {
using lsq_4bit = scheme<bits<4>, no_clip, learned_step, clipped_ste>;
}

TEST_CASE("percentile scales saturate the largest weights instead of stretching the grid", "[quant][scaling]") {
  // |w| = 1 .. 100, half of them negative.
  std::vector<float> w(100);
  for (std::size_t i = 0; i < 100; ++i) w[i] = float(i + 1) * (i % 2 ? -1.0f : 1.0f);
  float s = 0;
  percentile_per_tensor<90.0f>::compute(w.data(), 10, 10, 7.0f, &s);
  CHECK(s == 90.0f / 7.0f);
  percentile_per_tensor<100.0f>::compute(w.data(), 10, 10, 7.0f, &s);
  float abs_max = 0;
  abs_max_per_tensor::compute(w.data(), 10, 10, 7.0f, &abs_max);
  CHECK(s == abs_max);
  // Per channel: row r holds 10r+1 .. 10r+10; its 80th percentile is 10r+8.
  float rows[10];
  percentile_per_channel<80.0f>::compute(w.data(), 10, 10, 7.0f, rows);
  for (int r = 0; r < 10; ++r) CHECK(rows[r] == float(10 * r + 8) / 7.0f);

  using S = scheme<bits<4>, no_clip, percentile_per_tensor<90.0f>, clipped_ste>;
  std::vector<float> wq(100);
  S::quantize(w.data(), wq.data(), 10, 10, &s);
  CHECK(wq[99] == Approx(-90.0f));  // |w| = 100 saturates at the 90th percentile
  CHECK(wq[0] == 0.0f);             // 1 < s / 2
  CHECK(S::describe().find("90th-percentile scale per tensor") != std::string::npos);
  static_assert(!is_valid_scheme<bits<4>, no_clip, percentile_per_tensor<50.0f>, ste>);
  static_assert(!is_valid_scheme<bits<4>, no_clip, percentile_per_tensor<100.5f>, ste>);
}

TEST_CASE("a learned step starts at 2 mean|w| / sqrt(qmax)", "[quant][scaling]") {
  const std::vector<float> w{1.0f, -3.0f, 2.0f, -2.0f};
  float s = 0;
  learned_step::compute(w.data(), 1, 4, 7.0f, &s);
  CHECK(s == Approx(2.0 * 2.0 / std::sqrt(7.0)));
  float rows[2];
  learned_step_per_channel::compute(w.data(), 2, 2, 3.0f, rows);
  CHECK(rows[0] == Approx(2.0 * 2.0 / std::sqrt(3.0)));
  CHECK(rows[1] == Approx(2.0 * 2.0 / std::sqrt(3.0)));
  const std::vector<float> zeros(4, 0.0f);
  learned_step::compute(zeros.data(), 1, 4, 7.0f, &s);
  CHECK(s == 1.0f);  // any positive step quantizes zeros to zero
}

TEST_CASE("the learned step's gradient follows Esser et al., including the 1/sqrt(N Q) scale", "[quant][scaling]") {
  const float s = 0.5f, q = 7;
  // v/s = 0.6 (inside, round 1: 0.4), -1.2 (inside, round -1: 0.2), 4.0 (a level: 0), 9 (saturates: +7), -8 (-7).
  const std::vector<float> v{0.3f, -0.6f, 2.0f, 4.5f, -4.0f};
  const std::vector<float> dv{1.0f, 2.0f, 3.0f, 0.5f, 0.25f};
  const double expected = (1.0 * 0.4 + 2.0 * 0.2 + 3.0 * 0.0 + 0.5 * 7.0 + 0.25 * -7.0) / std::sqrt(5.0 * 7.0);
  CHECK(learned_step_gradient(v.data(), dv.data(), v.size(), s, q) == Approx(expected).epsilon(1e-6));
}

TEST_CASE("the learned step's sum over a large input is the plain sum, the same for any number of threads",
          "[quant][scaling]") {
  // A layer input's size: 100,003 values (blocks of 16,384 and a ragged end).
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> v(100003), dv(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = normal(rng);
    dv[i] = normal(rng);
  }
  const float s = 0.3f, qn = 8.0f, qp = 7.0f;
  double plain = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float x = v[i] / s;
    plain += double(dv[i]) * (x <= -qn ? -qn : x >= qp ? qp : std::nearbyint(x) - x);
  }
  const int threads = kernels::max_threads();
  kernels::set_threads(1);
  const double one = kernels::learned_step_sum(v.data(), dv.data(), v.size(), s, qn, qp);
  kernels::set_threads(std::max(threads, 2));
  const double two = kernels::learned_step_sum(v.data(), dv.data(), v.size(), s, qn, qp);
  kernels::set_threads(threads);
  CHECK(one == two);
  CHECK(one == Approx(plain).epsilon(1e-4));
}

TEST_CASE("LSQ steps train, are kept in checkpoints, and stay positive", "[quant][scaling]") {
  fixtures::small_net<lsq_4bit> net, restored;
  static_assert(decltype(net)::parameter_count == fixtures::small_net<paper_4bit>::parameter_count + 2);
  std::mt19937_64 rng(1);
  net.init(rng);
  const float start = net.layer<0>().step.value(0);
  const auto& w0 = net.layer<0>().weight.value;
  double mean = 0;
  for (float v : w0) mean += std::fabs(v) / double(w0.size());
  CHECK(start == Approx(2.0 * mean / std::sqrt(7.0)).epsilon(1e-5));

  const auto data = fixtures::colour_dataset(64, 2);
  data::batch_loader loader(data, {.batch_size = 32, .shuffle = false, .augment = false});
  loader.start_epoch(0);
  data::batch b;
  REQUIRE(loader.next(b));
  adamw opt;
  context ctx;
  activation grad;
  train_step(net, opt, b.images, b.labels, 1e-2f, 0.0, grad, ctx);
  CHECK(net.layer<0>().step.grad(0) != 0.0f);
  CHECK(net.layer<0>().step.value(0) != start);  // the optimizer moved it

  net.layer<0>().step.value(0) = -1.0f;
  net.post_step();
  CHECK(net.layer<0>().step.value(0) > 0.0f);
  net.layer<0>().step.value(0) = 0.3f;

  const checkpoint c = checkpoint::parse(encode_checkpoint(net, opt, {}), "checkpoint 'lsq'");
  c.restore_network(restored);
  CHECK(fixtures::all_values(restored) == fixtures::all_values(net));
  CHECK(restored.layer<0>().step.value(0) == 0.3f);
  CHECK(describe_network<decltype(net)>().text().find("learned step (LSQ) per tensor") != std::string::npos);
}
