// The command line shared by train_cifar10 and train_cifar100: it parses the
// flags, picks one of the separately instantiated network types at the top,
// and hands it to nibble::train. Nothing below main() switches at run time.
#pragma once
#include <cstdlib>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <nibble/data/cifar.hpp>
#include <nibble/kernels/parallel.hpp>
#include <nibble/net/simple_resnet4bit.hpp>
#include <nibble/net/vgg4bit.hpp>
#include <nibble/quant/presets.hpp>
#include <nibble/train/trainer.hpp>

struct cifar_cli {
  std::string data;
  std::string model = "vgg";
  int bits = 4;
  std::string arithmetic = "fp32";
  std::string optimizer = "adamw";
  double momentum = 0.9;
  bool nesterov = false;
  int threads = 0;
  nibble::train_options train;
};

inline void add_common_options(CLI::App& app, cifar_cli& c, const std::string& default_data) {
  c.data = std::getenv("NIBBLE_DATA") ? std::getenv("NIBBLE_DATA") : default_data;
  auto& t = c.train;
  app.add_option("--data", c.data, "Folder with the official binary files (env NIBBLE_DATA)")->capture_default_str();
  app.add_option("--model", c.model, "Network: vgg (VGG4bit) or resnet (SimpleResNet4bit)")
      ->check(CLI::IsMember({"vgg", "resnet"}))->capture_default_str();
  app.add_option("--bits", c.bits, "Weight bits: 4 (the paper's scheme), 8, or 32 (float baseline)")
      ->check(CLI::IsMember({4, 8, 32}))->capture_default_str();
  app.add_option("--arithmetic", c.arithmetic,
                 "Convolution products in fp32, or bf16 (AVX512-BF16; fp32 sums) for speed")
      ->check(CLI::IsMember({"fp32", "bf16"}))->capture_default_str();
  app.add_option("--epochs", t.epochs, "Epochs to train")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--batch-size", t.batch_size, "Images per batch")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--lr", t.learning_rate, "Peak learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--weight-decay", t.weight_decay, "Weight decay")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--grad-clip", t.grad_clip, "Max global gradient norm (0: off)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--t-max", t.t_max, "Cosine annealing period in epochs")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--warmup", t.warmup_epochs, "Linear warm-up epochs")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--optimizer", c.optimizer, "adamw or sgd")->check(CLI::IsMember({"adamw", "sgd"}))->capture_default_str();
  app.add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str();
  app.add_flag("--nesterov", c.nesterov, "SGD with Nesterov momentum");
  app.add_option("--threads", c.threads, "Compute threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", t.seed, "Seed for initialisation, shuffling, augmentation and dropout")->capture_default_str();
  app.add_option("--checkpoint-dir", t.checkpoint_dir, "Save last.ckpt here after every epoch");
  app.add_flag("--resume", t.resume, "Continue from <checkpoint-dir>/last.ckpt");
  app.add_option("--metrics", t.metrics_file, "Per-epoch metrics file (.csv, or .jsonl for JSON lines)");
  app.add_option("--max-batches", t.max_batches, "Stop each epoch after this many batches (0: all)");
  app.add_flag("!--no-progress", t.progress, "Hide the progress bar");
}

template <class Net>
int run_with(const cifar_cli& c, const nibble::data::dataset& train_set, const nibble::data::dataset& test_set) {
  auto net = std::make_unique<Net>();
  std::mt19937_64 rng(c.train.seed);
  net->init(rng);
  fmt::print("network: {} parameters, {} classes, {}-bit weights, {} arithmetic, optimizer {}\n", Net::parameter_count,
             Net::output_shape::channels, c.bits, c.arithmetic, c.optimizer);
  if (c.optimizer == "sgd") {
    nibble::sgd opt{.momentum = float(c.momentum), .weight_decay = float(c.train.weight_decay), .nesterov = c.nesterov};
    nibble::train(*net, opt, train_set, test_set, c.train);
  } else {
    nibble::adamw opt{.weight_decay = float(c.train.weight_decay)};
    nibble::train(*net, opt, train_set, test_set, c.train);
  }
  return 0;
}

// Instantiates every (model, bits, arithmetic) combination once; chooses one
// at run time here.
template <std::size_t Classes>
int dispatch(const cifar_cli& c, const nibble::data::dataset& train_set, const nibble::data::dataset& test_set) {
  using namespace nibble;
  auto pick = [&]<int Bits>() {
    auto with = [&]<class S>() {
      return c.model == "vgg" ? run_with<vgg4bit<Classes, S>>(c, train_set, test_set)
                              : run_with<simple_resnet4bit<Classes, S>>(c, train_set, test_set);
    };
    using S = scheme_for_bits_t<Bits>;
    return c.arithmetic == "bf16" ? with.template operator()<with_arithmetic_t<S, bf16_arithmetic>>()
                                  : with.template operator()<S>();
  };
  switch (c.bits) {
    case 4: return pick.template operator()<4>();
    case 8: return pick.template operator()<8>();
    default: return pick.template operator()<32>();
  }
}

inline void apply_threads(const cifar_cli& c) {
  if (c.threads > 0) nibble::kernels::set_threads(c.threads);
  fmt::print("threads: {}\n", nibble::kernels::max_threads());
}
