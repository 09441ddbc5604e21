// Training and evaluation throughput of VGG4bit<10, paper_4bit> on random
// data: the nibble half of benchmarks/side_by_side.py. --scheme picks another
// scheme of the same network with bf16 products, to measure what a scheme's
// quantizer costs per step (benchmarks/scheme_step_time.py).
//
// After --warmup training steps it times --repeats windows of --steps
// training steps (forward, loss, backward, gradient-norm clip 0.5, AdamW
// lr 1e-3 wd 5e-4, post-step tanh clip: the trainer's step without data
// loading), then, after one warm-up batch, --repeats windows of
// --eval-batches evaluation forwards. It prints one "key value" line per
// figure; the throughputs are medians over the windows:
//
//   parameters 3251018
//   threads 2
//   train_window_images_per_second 101.2     (one line per window)
//   eval_window_images_per_second 402.3      (one line per window)
//   train_images_per_second 101.2
//   eval_images_per_second 402.3
//   peak_rss_mb 312.5                         (VmHWM of this process)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <nibble/kernels/parallel.hpp>
#include <nibble/net/resnet20.hpp>
#include <nibble/net/vgg4bit.hpp>
#include <nibble/quant/presets.hpp>
#include <nibble/train/optimizer.hpp>
#include <nibble/train/step.hpp>

#include "throughput_common.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

using bench::median;
using bench::peak_rss_mb;

}  // namespace

struct settings {
  std::size_t batch = 128, warmup = 3, steps = 10, eval_batches = 10, repeats = 3;
  int threads = 0;
  std::uint64_t seed = 0;
  std::string arithmetic = "fp32";
  std::string model = "vgg";
  std::string scheme = "paper";
};

// The schemes --scheme names, each with bf16 products.
namespace schemes {
using namespace nibble;
using stochastic = with_arithmetic_t<stochastic_w4, bf16_arithmetic>;
using percentile = with_arithmetic_t<percentile_w4, bf16_arithmetic>;
using lsq = with_arithmetic_t<lsq_w4, bf16_arithmetic>;
using lsq_a4 = with_arithmetic_t<lsq_w4a4, bf16_arithmetic>;
using ema_a4 = with_arithmetic_t<w4a4, bf16_arithmetic>;
using pact_a4 = with_arithmetic_t<pact_w4a4, bf16_arithmetic>;
using pot_soft = with_arithmetic_t<pot_w4, bf16_arithmetic>;
using pot_soft_a4 = with_arithmetic_t<pot_w4a4, bf16_arithmetic>;
}  // namespace schemes

template <class net_type>
int run(const settings& s) {
  const auto& [batch, warmup, steps, eval_batches, repeats, threads, seed, arithmetic, model, scheme] = s;

  nibble::kernels::set_threads(threads);
  auto net = std::make_unique<net_type>();
  std::mt19937_64 rng(seed);
  net->init(rng);

  nibble::activation x;
  nibble::ensure_batch_shape<typename net_type::input_shape>(x, batch);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  std::vector<std::int32_t> labels(batch);
  std::uniform_int_distribution<std::int32_t> label(0, 9);
  for (auto& l : labels) l = label(rng);

  nibble::adamw opt{.weight_decay = 5e-4f};
  nibble::context ctx{.phase = nibble::mode::train};
  nibble::activation grad;
  double loss = 0;
  auto train_step = [&] {
    loss = nibble::train_step(*net, opt, x, labels, 1e-3f, 0.5, grad, ctx).loss;
  };
  float checksum = 0;
  auto eval_batch = [&] { checksum += net->forward(x, ctx).data()[0]; };
  auto seconds_since = [](clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
  };

  fmt::print("parameters {}\nthreads {}\nbatch_size {}\narithmetic {}\nscheme {}\n", net_type::parameter_count,
             nibble::kernels::max_threads(), batch, arithmetic, scheme);
  std::fflush(stdout);

  ctx.phase = nibble::mode::train;
  for (std::size_t i = 0; i < warmup; ++i) train_step();
  std::vector<double> train_rates;
  for (std::size_t r = 0; r < repeats; ++r) {
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < steps; ++i) train_step();
    train_rates.push_back(double(steps * batch) / seconds_since(t0));
    fmt::print("train_window_images_per_second {:.2f}\n", train_rates.back());
    std::fflush(stdout);
  }
  fmt::print("final_train_loss {:.4f}\n", loss);

  std::vector<double> eval_rates;
  if (eval_batches > 0) {
    ctx.phase = nibble::mode::eval;
    eval_batch();
    for (std::size_t r = 0; r < repeats; ++r) {
      const auto t0 = clock_type::now();
      for (std::size_t i = 0; i < eval_batches; ++i) eval_batch();
      eval_rates.push_back(double(eval_batches * batch) / seconds_since(t0));
      fmt::print("eval_window_images_per_second {:.2f}\n", eval_rates.back());
      std::fflush(stdout);
    }
  }

  fmt::print("train_images_per_second {:.2f}\n", median(train_rates));
  if (!eval_rates.empty()) fmt::print("eval_images_per_second {:.2f}\n", median(eval_rates));
  fmt::print("peak_rss_mb {:.1f}\n", peak_rss_mb());
  fmt::print("eval_checksum {:.6g}\n", double(checksum));
  return 0;
}

int main(int argc, char** argv) {
  CLI::App app{"Training and evaluation images/s of VGG4bit (4-bit) on random data"};
  settings s;
  app.add_option("--batch-size", s.batch, "Images per batch")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--warmup", s.warmup, "Untimed training steps first")->capture_default_str();
  app.add_option("--steps", s.steps, "Training steps per timed window")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--eval-batches", s.eval_batches, "Evaluation batches per timed window (0: skip evaluation)")
      ->capture_default_str();
  app.add_option("--repeats", s.repeats, "Timed windows of each kind")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--threads", s.threads, "Compute threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", s.seed, "Seed for weights and data")->capture_default_str();
  app.add_option("--arithmetic", s.arithmetic, "GEMM arithmetic: fp32 (paper_4bit) or bf16 (paper_4bit_bf16)")
      ->check(CLI::IsMember({"fp32", "bf16"}))->capture_default_str();
  app.add_option("--scheme", s.scheme,
                 "paper (the paper's, with --arithmetic), or with bf16 products: stochastic (rounding), percentile "
                 "(99.9th), lsq (learned weight step), lsq-a4 (and learned 4-bit input steps), ema-a4 (4-bit "
                 "inputs on a moving range), pact-a4 (4-bit inputs under a learned clip), pot-soft (power-of-two "
                 "levels, soft staircase), pot-soft-a4 (and power-of-two 4-bit inputs)")
      ->check(CLI::IsMember(
          {"paper", "stochastic", "percentile", "lsq", "lsq-a4", "ema-a4", "pact-a4", "pot-soft", "pot-soft-a4"}))
      ->capture_default_str();
  app.add_option("--model", s.model, "vgg (VGG4bit) or resnet20 (ResNet-20; --scheme paper only)")
      ->check(CLI::IsMember({"vgg", "resnet20"}))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (s.model == "resnet20") {
    if (s.scheme != "paper") {
      fmt::print(stderr, "--model resnet20 is built with --scheme paper only\n");
      return 2;
    }
    return s.arithmetic == "bf16" ? run<nibble::resnet20<10, nibble::paper_4bit_bf16>>(s)
                                  : run<nibble::resnet20<10, nibble::paper_4bit>>(s);
  }
  using nibble::vgg4bit;
  if (s.scheme == "stochastic") return run<vgg4bit<10, schemes::stochastic>>(s);
  if (s.scheme == "percentile") return run<vgg4bit<10, schemes::percentile>>(s);
  if (s.scheme == "lsq") return run<vgg4bit<10, schemes::lsq>>(s);
  if (s.scheme == "lsq-a4") return run<vgg4bit<10, schemes::lsq_a4>>(s);
  if (s.scheme == "ema-a4") return run<vgg4bit<10, schemes::ema_a4>>(s);
  if (s.scheme == "pact-a4") return run<vgg4bit<10, schemes::pact_a4>>(s);
  if (s.scheme == "pot-soft") return run<vgg4bit<10, schemes::pot_soft>>(s);
  if (s.scheme == "pot-soft-a4") return run<vgg4bit<10, schemes::pot_soft_a4>>(s);
  return s.arithmetic == "bf16" ? run<vgg4bit<10, nibble::paper_4bit_bf16>>(s)
                                : run<vgg4bit<10, nibble::paper_4bit>>(s);
}
