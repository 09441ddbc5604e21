// Optimizers, gradient clipping, schedule and loss against values worked out
// by hand (the update rules of torch.optim.AdamW / SGD).
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/flatten.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/net/sequential.hpp"
#include "nibble/quant/presets.hpp"

#include "nibble/train/lookahead.hpp"
#include "nibble/train/loss.hpp"
#include "nibble/train/optimizer.hpp"
#include "nibble/train/schedule.hpp"
#include "nibble/train/weight_average.hpp"

using namespace nibble;

namespace {
// A "network" of one parameter, enough for the optimizers' visit.
struct one_parameter {
  parameter p{3, parameter_role::weight};
  template <class F>
  void visit_parameters(F&& f) {
    f(p);
  }
};
}  // namespace

TEST_CASE("adamw first step moves each weight by lr against the gradient sign, after decoupled decay", "[optimizer]") {
  one_parameter net;
  net.p.value = {1.0f, -2.0f, 0.5f};
  net.p.grad = {0.3f, -0.1f, 0.0f};
  adamw opt{.weight_decay = 0.1f};
  opt.step(net, 0.01f);
  // Step 1: m̂ = g, v̂ = g², update = lr·g/(|g|+eps) = lr·sign(g).
  CHECK(net.p.value(0) == Approx(1.0f * (1 - 0.001f) - 0.01f).margin(1e-6));
  CHECK(net.p.value(1) == Approx(-2.0f * (1 - 0.001f) + 0.01f).margin(1e-6));
  CHECK(net.p.value(2) == Approx(0.5f * (1 - 0.001f)).margin(1e-6));
}

TEST_CASE("adamw second step follows the bias-corrected moments", "[optimizer]") {
  one_parameter net;
  net.p.value = {1.0f, 0.0f, 0.0f};
  adamw opt{.weight_decay = 0.0f};
  net.p.grad = {1.0f, 0.0f, 0.0f};
  opt.step(net, 0.1f);
  net.p.grad = {0.5f, 0.0f, 0.0f};
  opt.step(net, 0.1f);
  const double m = 0.9 * 0.1 * 1.0 + 0.1 * 0.5, v = 0.999 * 0.001 * 1.0 + 0.001 * 0.25;
  const double mhat = m / (1 - 0.81), vhat = v / (1 - 0.999 * 0.999);
  CHECK(net.p.value(0) == Approx(1.0 - 0.1 - 0.1 * mhat / (std::sqrt(vhat) + 1e-8)).margin(1e-5));
}

TEST_CASE("sgd with momentum and nesterov match torch.optim.SGD", "[optimizer]") {
  one_parameter plain, nesterov;
  for (auto* n : {&plain, &nesterov}) n->p.value = {1.0f, 0.0f, 0.0f};
  sgd a{.momentum = 0.9f, .weight_decay = 0.0f}, b{.momentum = 0.9f, .weight_decay = 0.0f, .nesterov = true};
  for (int i = 0; i < 2; ++i) {
    plain.p.grad = {1.0f, 0.0f, 0.0f};
    nesterov.p.grad = {1.0f, 0.0f, 0.0f};
    a.step(plain, 0.1f);
    b.step(nesterov, 0.1f);
  }
  // buf1 = 1, buf2 = 1.9. Plain: 1 − 0.1·1 − 0.1·1.9. Nesterov: 1 − 0.1·1.9 − 0.1·2.71.
  CHECK(plain.p.value(0) == Approx(0.71f));
  CHECK(nesterov.p.value(0) == Approx(1.0f - 0.19f - 0.271f));
}

TEST_CASE("gradient-norm clipping scales to the bound and leaves small gradients alone", "[optimizer]") {
  one_parameter net;
  net.p.grad = {3.0f, 4.0f, 0.0f};
  CHECK(clip_gradient_norm(net, 0.5) == Approx(5.0));
  CHECK(net.p.grad(0) == Approx(0.3f).epsilon(1e-4));
  CHECK(net.p.grad(1) == Approx(0.4f).epsilon(1e-4));
  net.p.grad = {0.1f, 0.0f, 0.0f};
  clip_gradient_norm(net, 0.5);
  CHECK(net.p.grad(0) == 0.1f);
}

TEST_CASE("weight average: the first update copies, then the decay warms up to its setting", "[optimizer]") {
  one_parameter net;
  weight_average avg(0.2f);
  net.p.value = {1.0f, -2.0f, 4.0f};
  avg.update(net);  // copies
  net.p.value = {3.0f, 0.0f, 4.0f};
  avg.update(net);  // keeps 2/11 of the old average, below the setting 0.2
  net.p.value = {5.0f, 2.0f, -4.0f};
  CHECK(avg.next_decay() == Approx(0.2));  // 3/12 would exceed the setting
  avg.update(net);
  CHECK(avg.updates() == 3);
  const float k1 = 2.0f / 11.0f;
  const float expected[3] = {0.2f * (k1 * 1 + (1 - k1) * 3) + 0.8f * 5, 0.2f * (k1 * -2 + (1 - k1) * 0) + 0.8f * 2,
                             0.2f * 4 + 0.8f * -4};
  avg.swap_into(net);  // the network now holds the average ...
  for (int i = 0; i < 3; ++i) CHECK(net.p.value(i) == Approx(expected[i]).epsilon(1e-6));
  avg.swap_into(net);  // ... and its own weights again
  CHECK(net.p.value(0) == 5.0f);
  CHECK(net.p.value(2) == -4.0f);
}

TEST_CASE("weight average: saved state loads back, and state of another decay or network is refused", "[optimizer]") {
  one_parameter net;
  net.p.value = {1.0f, 2.0f, 3.0f};
  weight_average avg(0.9f);
  weight_average empty(0.9f);
  CHECK_THROWS_WITH(empty.swap_into(net), Catch::Contains("nothing averaged yet"));
  avg.update(net);
  io::byte_writer w;
  avg.save(w);
  const auto bytes = w.take();
  const std::size_t sizes[] = {3};

  weight_average back(0.9f);
  io::byte_reader r(bytes, "state");
  back.load(r, sizes);
  CHECK(back.updates() == 1);
  net.p.value = {0.0f, 0.0f, 0.0f};
  back.swap_into(net);
  CHECK(net.p.value(1) == 2.0f);

  weight_average other_decay(0.99f);
  io::byte_reader r2(bytes, "state");
  CHECK_THROWS_WITH(other_decay.load(r2, sizes), Catch::Contains("decay 0.9, but this run asks for 0.99"));
  const std::size_t other_sizes[] = {3, 5};
  io::byte_reader r3(bytes, "state");
  CHECK_THROWS_WITH(back.load(r3, other_sizes), Catch::Contains("1 averaged tensors after 1 updates, where the network "
                                                                "has 2"));
  const std::size_t bigger[] = {4};
  io::byte_reader r4(bytes, "state");
  CHECK_THROWS_AS(back.load(r4, bigger), io::io_error);
  CHECK_THROWS_WITH(weight_average(1.0f), Catch::Contains("between 0 and 1"));
}

TEST_CASE("cosine schedule: base at 0, half at T_max/2, min at T_max, rising after it", "[schedule]") {
  cosine_schedule s{.base_lr = 1e-3, .min_lr = 0.0, .t_max = 100};
  CHECK(s.at(0) == Approx(1e-3));
  CHECK(s.at(50) == Approx(5e-4));
  CHECK(s.at(100) == Approx(0.0).margin(1e-12));
  CHECK(s.at(150) == Approx(5e-4));
  cosine_schedule w{.base_lr = 1.0, .t_max = 10, .warmup_epochs = 2};
  CHECK(w.at(1.0) == Approx(0.5).epsilon(1e-2));
  CHECK(w.at(2.0) == Approx(1.0));
}

TEST_CASE("one-cycle schedule: from max/div up to max at the rise, down to max/(div*final_div) at the end",
          "[schedule]") {
  one_cycle_schedule s{.max_lr = 1e-2, .total_epochs = 20, .rise_fraction = 0.25};
  CHECK(s.at(0) == Approx(1e-2 / 25));
  CHECK(s.at(2.5) == Approx((1e-2 / 25 + 1e-2) / 2));  // half way up
  CHECK(s.at(5) == Approx(1e-2));
  CHECK(s.at(12.5) == Approx((1e-2 + 1e-2 / 25 / 1e4) / 2));  // half way down
  CHECK(s.at(20) == Approx(1e-2 / 25 / 1e4));
  double previous = 0;
  for (double t = 0; t <= 5; t += 0.25) {
    CHECK(s.at(t) >= previous);
    previous = s.at(t);
  }
  for (double t = 5; t <= 20; t += 0.25) {
    CHECK(s.at(t) <= previous);
    previous = s.at(t);
  }
}

TEST_CASE("triangle schedule: 0.2 of the peak at the start, the peak at 23 %, 0.07 of it at the end", "[schedule]") {
  triangle_schedule s{.peak_lr = 2.0, .total_epochs = 20};
  CHECK(s.at(0) == Approx(0.4));
  CHECK(s.at(0.23 * 20) == Approx(2.0));
  CHECK(s.at(0.115 * 20) == Approx((0.4 + 2.0) / 2));  // linear on the way up
  CHECK(s.at(20) == Approx(0.14));
  CHECK(s.at((0.23 + 0.77 / 2) * 20) == Approx((2.0 + 0.14) / 2));  // and on the way down
  CHECK(s.at(25) == Approx(0.14));  // held past the end
}

namespace {
// Two parameters of different roles, for rules that treat roles apart.
struct weight_and_norm {
  parameter w{2, parameter_role::weight};
  parameter n{2, parameter_role::norm};
  template <class F>
  void visit_parameters(F&& f) {
    f(w);
    f(n);
  }
};
}  // namespace

TEST_CASE("sgd norm_rate_factor: batch-norm parameters at factor x the rate and decay / factor", "[optimizer]") {
  weight_and_norm net, reference;
  for (auto* m : {&net, &reference}) {
    m->w.value = {1.0f, -1.0f};
    m->n.value = {0.5f, 2.0f};
  }
  sgd fast{.momentum = 0.85f, .weight_decay = 0.01f, .nesterov = true, .norm_rate_factor = 64.0f};
  sgd plain_weights{.momentum = 0.85f, .weight_decay = 0.01f, .nesterov = true};
  for (int i = 0; i < 3; ++i) {
    for (auto* m : {&net, &reference}) {
      m->w.grad = {0.3f, -0.2f};
      m->n.grad = {0.1f, -0.4f};
    }
    fast.step(net, 0.01f);
    plain_weights.step(reference, 0.01f);
  }
  // The weights move as without the factor.
  CHECK(net.w.value(0) == reference.w.value(0));
  CHECK(net.w.value(1) == reference.w.value(1));
  // The norm parameters as torch.optim.SGD with lr 0.64 and weight decay 0.01 / 64, worked out here.
  for (std::size_t i = 0; i < 2; ++i) {
    double w = i == 0 ? 0.5 : 2.0, buf = 0;
    const double g = i == 0 ? 0.1 : -0.4;
    for (int step = 0; step < 3; ++step) {
      const double d = g + 0.01 / 64 * w;
      buf = step == 0 ? d : 0.85 * buf + d;
      w -= 0.64 * (d + 0.85 * buf);
    }
    CHECK(net.n.value(i) == Approx(w).epsilon(1e-5));
  }
  CHECK(fast.settings().back() == std::pair<std::string, std::string>{"norm_rate_factor", "64"});
  CHECK(plain_weights.settings().size() == 3);  // unset: checkpoints from before it still resume
}

TEST_CASE("lookahead: pulls the weights back to their running average, stronger towards the end", "[optimizer]") {
  one_parameter net;
  net.p.value = {1.0f, 2.0f, 3.0f};
  lookahead la;  // from epoch 3, every 5 steps, rho = 0.95^5 (step/total)^3
  la.begin_epoch(net, 2);
  la.after_step(net, 2, 10, 100);  // before the start epoch: nothing
  CHECK(net.p.value(0) == 1.0f);
  la.begin_epoch(net, 3);
  la.after_step(net, 3, 12, 100);  // not a multiple of 5: nothing
  la.after_step(net, 3, 15, 100);  // the first: the average starts as a copy
  CHECK(net.p.value(0) == 1.0f);
  net.p.value = {2.0f, 2.0f, 2.0f};  // training moved the weights
  la.after_step(net, 3, 50, 100);
  const double rho = std::pow(0.95, 5) * std::pow(0.5, 3);
  CHECK(net.p.value(0) == Approx(rho * 1.0 + (1 - rho) * 2.0));
  CHECK(net.p.value(2) == Approx(rho * 3.0 + (1 - rho) * 2.0));
  const float pulled = net.p.value(0);
  net.p.value = {0.0f, 0.0f, 0.0f};
  la.end_epoch(net);  // the weights become the average
  CHECK(net.p.value(0) == pulled);

  // A later epoch starts its average from the weights, which end_epoch made
  // the average: a resumed run (a new lookahead) goes on exactly alike.
  one_parameter resumed = net;
  lookahead fresh;
  for (auto [l, m] : {std::pair{&la, &net}, std::pair{&fresh, &resumed}}) {
    l->begin_epoch(*m, 4);
    m->p.value = {5.0f, 5.0f, 5.0f};
    l->after_step(*m, 4, 60, 100);
  }
  CHECK(net.p.value(0) == resumed.p.value(0));
  CHECK(net.p.value(0) < 5.0f);
}

TEST_CASE("softmax cross-entropy: value, gradient and its finite differences", "[loss]") {
  activation z = xt::zeros<float>({2, 3, 1, 1});
  z(0, 0, 0, 0) = 1.0f;
  z(0, 1, 0, 0) = 2.0f;
  z(0, 2, 0, 0) = 0.5f;
  z(1, 2, 0, 0) = -1.0f;
  const std::vector<std::int32_t> labels{1, 0};
  activation g;
  // The gradient in g against central differences of the loss, smoothed by eps.
  auto check_gradient = [&](float eps) {
    auto loss_at = [&](const activation& zz) {
      activation unused;
      return softmax_cross_entropy(zz, labels, unused, eps).loss;
    };
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t c = 0; c < 3; ++c) {
        activation p = z, m = z;
        p(i, c, 0, 0) += 1e-3f;
        m(i, c, 0, 0) -= 1e-3f;
        CHECK(g(i, c, 0, 0) == Approx((loss_at(p) - loss_at(m)) / 2e-3).margin(1e-3));
      }
  };
  const auto r = softmax_cross_entropy(z, labels, g);
  CHECK(r.correct == 2);
  check_gradient(0.0f);
  // Without smoothing the gradient is exactly softmax/N − onehot/N.
  for (std::size_t i = 0; i < 2; ++i) {
    double sum = 0;
    for (std::size_t c = 0; c < 3; ++c) sum += std::exp(double(z(i, c, 0, 0)));
    for (std::size_t c = 0; c < 3; ++c) {
      const double zmax = i == 0 ? 2.0 : 0.0, shifted_sum = sum / std::exp(zmax);
      const float p = float(std::exp(double(z(i, c, 0, 0)) - zmax - std::log(shifted_sum)) / 2.0);
      CHECK(g(i, c, 0, 0) == p - (std::int32_t(c) == labels[i] ? 0.5f : 0.0f));
    }
  }
  const double expected0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(0.5)) - 2.0;
  const double expected1 = std::log(2.0 + std::exp(-1.0)) - 0.0;
  CHECK(r.loss == Approx((expected0 + expected1) / 2));
  std::vector<std::int32_t> bad{1, 3};
  CHECK_THROWS_WITH(softmax_cross_entropy(z, bad, g), Catch::Contains("label 3"));

  SECTION("with label smoothing") {
    const float eps = 0.1f;
    const auto smooth = softmax_cross_entropy(z, labels, g, eps);
    check_gradient(eps);
    // -Σ q log p with q = 0.9·onehot + 0.1/3, worked out for the first sample.
    const double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(0.5));
    const double sample0 = (0.9 + 0.1 / 3) * (lse0 - 2.0) + (0.1 / 3) * ((lse0 - 1.0) + (lse0 - 0.5));
    const double lse1 = std::log(2.0 + std::exp(-1.0));
    const double sample1 = (0.9 + 0.1 / 3) * lse1 + (0.1 / 3) * (lse1 + (lse1 + 1.0));
    CHECK(smooth.loss == Approx((sample0 + sample1) / 2));
    CHECK_THROWS_WITH(softmax_cross_entropy(z, labels, g, 1.0f), Catch::Contains("label smoothing"));
  }
}

namespace {
using refresh_net = sequential<input<3, 4, 4>, conv2d<4, 3, paper_4bit>, batch_norm_relu, flatten,
                               linear<3, with_activations_t<paper_4bit, activation_bits<8>>>>;

std::vector<xt::xtensor<float, 1>> buffers_of(refresh_net& net) {
  std::vector<xt::xtensor<float, 1>> out;
  net.visit_buffers([&](xt::xtensor<float, 1>& b) { out.push_back(b); });
  return out;
}
std::vector<xt::xtensor<float, 1>> parameters_of(refresh_net& net) {
  std::vector<xt::xtensor<float, 1>> out;
  net.visit_parameters([&](parameter& p) { out.push_back(p.value); });
  return out;
}
activation random_images(std::uint64_t seed, float shift) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(shift, 1.0f);
  activation x({5, 3, 4, 4});
  for (auto& v : x) v = normal(rng);
  return x;
}
}  // namespace

TEST_CASE("weight average: tested with batch-norm statistics and input ranges refreshed for it, the live ones put back",
          "[optimizer]") {
  auto net = std::make_unique<refresh_net>();
  std::mt19937_64 rng(3);
  net->init(rng);
  context train{.phase = mode::train};
  net->forward(random_images(1, 0.0f), train);  // live statistics
  weight_average avg(0.5f);
  avg.update(*net);
  net->visit_parameters([](parameter& p) {  // the live weights move away from the average
    for (auto& v : p.value) v = v * 1.5f + 0.25f;
  });
  net->forward(random_images(2, 3.0f), train);
  const auto live_buffers = buffers_of(*net), live_parameters = parameters_of(*net);

  // What the refresh must give: the averaged weights, then the same passes.
  const std::vector<activation> batches = {random_images(10, -1.0f), random_images(11, 2.0f)};
  auto twin = std::make_unique<refresh_net>(*net);
  avg.swap_into(*twin);
  context twin_pass{.phase = mode::train};
  for (std::size_t i = 0; i < batches.size(); ++i) {
    twin_pass.begin_step(i);
    twin->forward(batches[i], twin_pass);
  }
  const auto expected_buffers = buffers_of(*twin), averaged_parameters = parameters_of(*twin);
  avg.swap_into(*twin);  // (a swap: the average is the average again)
  REQUIRE(expected_buffers != live_buffers);

  std::size_t given = 0;
  const auto next = [&](activation& x) {
    if (given == batches.size()) return false;
    x = batches[given++];
    return true;
  };
  bool ran = false;
  with_average(avg, *net, next, [&] {
    ran = true;
    CHECK(parameters_of(*net) == averaged_parameters);
    CHECK(buffers_of(*net) == expected_buffers);
  });
  CHECK(ran);
  CHECK(given == batches.size());
  CHECK(parameters_of(*net) == live_parameters);
  CHECK(buffers_of(*net) == live_buffers);

  // Put back also when the test throws.
  given = 0;
  CHECK_THROWS_AS(with_average(avg, *net, next, [] { throw std::runtime_error("test failed"); }), std::runtime_error);
  CHECK(parameters_of(*net) == live_parameters);
  CHECK(buffers_of(*net) == live_buffers);
}
