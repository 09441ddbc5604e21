// The command line shared by train_cifar10 and train_cifar100: it parses the
// flags, picks one of the separately instantiated network types at the top,
// and hands it to nibble::train. Nothing below main() switches at run time.
#pragma once
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "cifar_recipes.hpp"
#include "cli_checks.hpp"

#include <nibble/config.hpp>
#include <nibble/data/cifar.hpp>
#include <nibble/io/init_from_float.hpp>
#include <nibble/kernels/parallel.hpp>
#include <nibble/net/describe.hpp>
#include <nibble/net/fast_vgg.hpp>
#include <nibble/net/simple_resnet4bit.hpp>
#include <nibble/net/vgg4bit.hpp>
#include <nibble/net/whitened_vgg.hpp>
#include <nibble/quant/presets.hpp>
#include <nibble/train/trainer.hpp>

struct cifar_cli {
  std::string data;
  std::string model = "vgg";
  int bits = 4;
  int activations = 32;
  std::string arithmetic = "fp32";
  std::string optimizer = "adamw";
  std::string schedule = "cosine";
  double momentum = 0.9;
  double weight_decay = 5e-4;
  bool nesterov = false;
  double norm_rate_factor = 1;
  int threads = 0;
  std::string init_from;  // a float checkpoint to start from (fine-tuning)
  std::string scheme = "paper";  // train_cifar10 only: one of named_schemes, or the --bits preset
  std::string recipe = "paper";  // cifar_recipes.hpp
  std::string recipe_line;       // the recipe's flags as they ended up, printed at start
  // Whether the program instantiates networks with quantized activations
  // (train_cifar100 does not: each network type costs compile time).
  bool quantized_activations_built = true;
  // Whether it instantiates FastVGG (train_cifar100 does not, for the same reason).
  bool fast_vgg_built = true;
  nibble::train_options train;
};

inline void add_common_options(CLI::App& app, cifar_cli& c, const std::string& default_data) {
  c.data = std::getenv("NIBBLE_DATA") ? std::getenv("NIBBLE_DATA") : default_data;
  auto& t = c.train;
  app.add_option("--data", c.data, "Folder with the official binary files (env NIBBLE_DATA)")->capture_default_str();
  app.add_option("--model", c.model,
                 "Network: vgg (VGG4bit), resnet (SimpleResNet4bit), fast-vgg (FastVGG, shaped for short runs) or "
                 "whitened-vgg (airbench's network: a fixed patch-whitening first layer, GELU); the last two with "
                 "float activations" +
                     std::string(c.fast_vgg_built ? "" : ", train_cifar10 only"))
      ->check(CLI::IsMember({"vgg", "resnet", "fast-vgg", "whitened-vgg"}))->capture_default_str();
  app.add_option("--bits", c.bits, "Weight bits: 4 (the paper's scheme), 8, or 32 (float baseline)")
      ->check(CLI::IsMember({4, 8, 32}))->capture_default_str();
  app.add_option("--activations", c.activations,
                 "Activation bits: 32 keeps them float (the paper's scheme); 8 or 4 quantizes the input of every "
                 "conv and linear layer to unsigned codes, for integer inference (needs --bits 4 or 8)" +
                     std::string(c.quantized_activations_built ? "" : "; train_cifar10 only"))
      ->check(CLI::IsMember({4, 8, 32}))->capture_default_str();
  app.add_option("--arithmetic", c.arithmetic,
                 "Convolution products in fp32, or bf16 (AVX512-BF16; fp32 sums) for speed")
      ->check(CLI::IsMember({"fp32", "bf16"}))->capture_default_str();
  app.add_option("--epochs", t.epochs, "Epochs to train")->check(count_from(1, 100000))->capture_default_str();
  app.add_option("--batch-size", t.batch_size, "Images per batch")->check(count_from(1, 65536))->capture_default_str();
  app.add_option("--lr", t.learning_rate, "Peak learning rate")->check(finite_number(0, false))->capture_default_str();
  app.add_option("--weight-decay", c.weight_decay, "Weight decay")->check(finite_number(0, true))->capture_default_str();
  app.add_option("--grad-clip", t.grad_clip, "Max global gradient norm (0: off)")
      ->check(finite_number(0, true))->capture_default_str();
  app.add_option("--t-max", t.t_max, "Cosine annealing period in epochs")
      ->check(finite_number(0, false))->capture_default_str();
  app.add_option("--warmup", t.warmup_epochs, "Linear warm-up epochs")->check(finite_number(0, true))->capture_default_str();
  app.add_option("--schedule", c.schedule,
                 "cosine (the paper's, over --t-max epochs), one-cycle (up to --lr and down over the run) or "
                 "triangle (linearly from 0.2x --lr up to --lr at 23 % of the run, then down to 0.07x)")
      ->check(CLI::IsMember({"cosine", "one-cycle", "triangle"}))->capture_default_str();
  app.add_option("--one-cycle-rise", t.one_cycle_rise, "Fraction of the run the one-cycle rate rises")
      ->check(finite_number(0, false, 0.99))->capture_default_str();
  app.add_option("--label-smoothing", t.label_smoothing, "Mix this much of a uniform target into the labels")
      ->check(finite_number(0, true, 0.99))->capture_default_str();
  app.add_option("--pad", t.augment.pad,
                 "Random-crop padding in pixels: training images are cropped from the image padded with black (0: no "
                 "crops)")
      ->check(CLI::Range(0, 16))->capture_default_str();
  app.add_option("--cutout", t.augment.cutout,
                 "Mask a square this many pixels wide at a random place of each training image with the mean "
                 "colour (cutout; 0: none)")
      ->check(CLI::Range(0, 32))->capture_default_str();
  app.add_flag("--reflect-pad", t.augment.reflect,
               "Crop from the image padded by reflecting it at its border instead of with black");
  app.add_flag("--alternate-flip", t.augment.alternate_flip,
               "Mirror each training image in every other epoch (from a random first one) instead of at random");
  app.add_flag("--test-flip", t.test_flip, "Test on each image and its mirror image, averaging the two");
  app.add_option("--test-shift", t.test_shift,
                 "Also test on each image shifted by this many pixels diagonally both ways (borders reflected), "
                 "averaging the logits of all the views (with --test-flip, of their mirror images too)")
      ->check(CLI::Range(0, 16))->capture_default_str();
  app.add_option("--weight-average", t.weight_average,
                 "Keep a moving average of the weights with this decay (e.g. 0.999) and test it beside them (0: none)")
      ->check(finite_number(0, true, 0.99999))->capture_default_str();
  app.add_option("--average-refresh-batches", t.average_refresh_batches,
                 "Training batches that refresh the weight average's batch-norm statistics before it is tested "
                 "(0: test it with the live ones)")
      ->check(count_from(0, 1 << 20))->capture_default_str();
  app.add_option("--optimizer", c.optimizer, "adamw or sgd")->check(CLI::IsMember({"adamw", "sgd"}))->capture_default_str();
  app.add_option("--momentum", c.momentum, "SGD momentum")->check(finite_number(0, true, 1))->capture_default_str();
  app.add_flag("--nesterov", c.nesterov, "SGD with Nesterov momentum");
  app.add_option("--norm-rate-factor", c.norm_rate_factor,
                 "SGD: the batch-norm parameters' rate is this times --lr, and their weight decay divided by it")
      ->check(finite_number(0, false))->capture_default_str();
  app.add_flag("--lookahead", t.lookahead,
               "Every 5 steps from the fourth epoch, pull the weights back to a running average of themselves, "
               "more strongly as the run ends (airbench's lookahead)");
  app.add_option("--threads", c.threads, "Compute threads (0: all cores)")->check(count_from(0, 1 << 20));
  app.add_option("--seed", t.seed, "Seed for initialisation, shuffling, augmentation and dropout")->capture_default_str();
  app.add_option("--checkpoint-dir", t.checkpoint_dir, "Save last.ckpt here after every epoch");
  app.add_option("--init-from", c.init_from,
                 "Start from the float network (--bits 32) of the same model in this checkpoint, then train the "
                 "quantized one (fine-tuning)");
  app.add_flag("--resume", t.resume, "Continue the run in <checkpoint-dir>/last.ckpt");
  app.add_flag("--overwrite", t.overwrite, "Discard an earlier run's checkpoint and metrics and start again");
  app.add_flag("--allow-changed-settings", t.allow_changed_settings,
               "Resume even if settings differ from the checkpoint's (listing them)");
  app.add_option("--metrics", t.metrics_file, "Per-epoch metrics file (.csv, or .jsonl for JSON lines)");
  app.add_option("--max-batches", t.max_batches, "Stop each epoch after this many batches (0: all)");
  app.add_option("--stop-after", t.stop_after,
                 "End this run after this many epochs, keeping the schedule of --epochs, to --resume later (0: run to "
                 "the end)");
  app.add_flag("!--no-progress", t.progress, "Hide the progress bar");
  add_recipe_option(app, c.recipe);
  app.final_callback([&app, &c] {
    c.recipe_line = apply_recipe(app, c);
    const bool fast_model = c.model == "fast-vgg" || c.model == "whitened-vgg";
    if (!c.fast_vgg_built && fast_model)
      throw CLI::ValidationError("--model", c.model + " is built into train_cifar10 only (each network type costs "
                                                      "compile time)");
    if (fast_model && c.activations != 32)
      throw CLI::ValidationError("--activations", c.model + " is built with float activations only: drop "
                                                            "--activations or use --model vgg");
    if (c.norm_rate_factor != 1 && c.optimizer != "sgd")
      throw CLI::ValidationError("--norm-rate-factor", "is an SGD setting: add --optimizer sgd");
    if (!c.quantized_activations_built && c.activations != 32)
      throw CLI::ValidationError("--activations", "quantized activations are built into train_cifar10 only (each "
                                                  "network type costs compile time); this program trains float "
                                                  "activations");
    if (c.bits == 32 && c.activations != 32)
      throw CLI::ValidationError("--activations", "quantized activations need quantized weights: add --bits 4 or 8");
    if (c.bits == 8 && c.activations == 4)
      throw CLI::ValidationError("--activations", "W8A4 is not built (no deployment target has it): 8-bit weights "
                                                  "take --activations 8, 4-bit activations take --bits 4");
    if (c.scheme == "paper") return;
    if (c.bits != 4) throw CLI::ValidationError("--scheme", c.scheme + " is a 4-bit scheme: drop --bits or use 4");
    if (c.model != "vgg")
      throw CLI::ValidationError("--scheme", c.scheme + " is built for --model vgg only (each is one more network "
                                             "type to compile)");
    if (c.activations == 8 || (c.activations == 4 && c.scheme != "lsq" && c.scheme != "pot"))
      throw CLI::ValidationError("--scheme", "quantized activations with " + c.scheme +
                                                 " are not built; --scheme lsq and pot take --activations 4 (learned "
                                                 "steps, power-of-two levels), --scheme paper takes 4 or 8");
  });
}

template <class Net>
int run_with(const cifar_cli& c, const nibble::data::dataset& train_set, const nibble::data::dataset& test_set) {
  auto net = std::make_unique<Net>();
  std::mt19937_64 rng(c.train.seed);
  net->init(rng);
  nibble::train_options options = c.train;
  options.schedule = c.schedule == "one-cycle" ? nibble::lr_schedule::one_cycle
                     : c.schedule == "triangle" ? nibble::lr_schedule::triangle
                                                : nibble::lr_schedule::cosine;
  options.model_name = c.model == "vgg"            ? "VGG4bit"
                       : c.model == "resnet"       ? "SimpleResNet4bit"
                       : c.model == "whitened-vgg" ? "WhitenedVGG"
                                                   : "FastVGG";
  // Fixed first-layer filters come from the data: the first 5,000 training
  // images as training feeds them, unaugmented (a resume restores them).
  if (const std::size_t n = std::min<std::size_t>(5000, train_set.size());
      nibble::fit_patch_whitening(*net, nibble::data::normalised_images(train_set, 0, n)) > 0)
    fmt::print("patch whitening: filters fitted to the first {} training images\n", n);
  const nibble::network_description description = nibble::describe_network<Net>();
  if (!c.recipe_line.empty()) fmt::print("{}\n", c.recipe_line);
  fmt::print("network: {}, {}; optimizer {}\n", options.model_name, description.summary, c.optimizer);
  for (const std::string& s : description.schemes) fmt::print("scheme: {}\n", s);
  if (!c.init_from.empty()) {
    const nibble::checkpoint from = nibble::checkpoint::read(c.init_from);
    nibble::init_from_float(from, *net, options.model_name);
    fmt::print("started from the float network in {} (after epoch {}){}\n", c.init_from, from.run().epochs_done,
               options.resume ? "; a checkpoint to resume replaces it" : "");
  }
  if (c.optimizer == "sgd") {
    nibble::sgd opt{.momentum = float(c.momentum),
                    .weight_decay = float(c.weight_decay),
                    .nesterov = c.nesterov,
                    .norm_rate_factor = float(c.norm_rate_factor)};
    nibble::train(*net, opt, train_set, test_set, options);
  } else {
    nibble::adamw opt{.weight_decay = float(c.weight_decay)};
    nibble::train(*net, opt, train_set, test_set, options);
  }
  return 0;
}

// The network types of one (classes, weight bits) group: the paper's two
// models, both arithmetics and, for quantized weights on CIFAR-10, float and
// 8-bit activations, and 4-bit ones with 4-bit weights; FastVGG for CIFAR-10
// with float activations. Each type costs about ten seconds of compile time,
// so W32A8 and W8A4 (no one's target) are not built, and the CIFAR-100
// groups train the paper's models with float activations only.
// Each group is instantiated in a file of its own (cifar_variant.cpp, see
// examples/CMakeLists.txt), so a build compiles the groups in parallel.
template <std::size_t Classes, int Bits>
int dispatch_bits(const cifar_cli& c, const nibble::data::dataset& train_set, const nibble::data::dataset& test_set) {
  using namespace nibble;
  auto with = [&]<class S>() {
    if constexpr (Classes == 10 && !S::quantizes_activations) {
      if (c.model == "fast-vgg") return run_with<fast_vgg<Classes, S>>(c, train_set, test_set);
      if (c.model == "whitened-vgg") return run_with<whitened_vgg<Classes, S>>(c, train_set, test_set);
    }
    return c.model == "vgg" ? run_with<vgg4bit<Classes, S>>(c, train_set, test_set)
                            : run_with<simple_resnet4bit<Classes, S>>(c, train_set, test_set);
  };
  auto with_arithmetic = [&]<class S>() {
    return c.arithmetic == "bf16" ? with.template operator()<with_arithmetic_t<S, bf16_arithmetic>>()
                                  : with.template operator()<S>();
  };
  using S = scheme_for_bits_t<Bits>;
  if constexpr (Bits == 32 || Classes != 10) {
    return with_arithmetic.template operator()<S>();
  } else {
    switch (c.activations) {
      case 4:
        if constexpr (Bits == 4) return with_arithmetic.template operator()<with_activations_t<S, activation_bits<4>>>();
        throw std::logic_error("W8A4 is not built");  // the command line refuses it first
      case 8: return with_arithmetic.template operator()<with_activations_t<S, activation_bits<8>>>();
      default: return with_arithmetic.template operator()<S>();
    }
  }
}

#define NIBBLE_CIFAR_GROUP(classes, bits)                                                                   \
  extern template int dispatch_bits<classes, bits>(const cifar_cli&, const nibble::data::dataset&, \
                                                   const nibble::data::dataset&);
#define NIBBLE_CIFAR_GROUPS(classes) NIBBLE_CIFAR_GROUP(classes, 4) NIBBLE_CIFAR_GROUP(classes, 8) NIBBLE_CIFAR_GROUP(classes, 32)
NIBBLE_CIFAR_GROUPS(10)
NIBBLE_CIFAR_GROUPS(20)
NIBBLE_CIFAR_GROUPS(100)
#undef NIBBLE_CIFAR_GROUPS
#undef NIBBLE_CIFAR_GROUP

// The other 4-bit schemes train_cifar10 names (--scheme), for VGG4bit and
// CIFAR-10 only. Each is instantiated in a file of its own
// (cifar_scheme_variant.cpp), in fp32 and bf16 arithmetic.
template <std::size_t I>
struct named_scheme;
template <>
struct named_scheme<0> {
  static constexpr std::string_view name = "stochastic", help = "stochastic rounding of the paper's weights";
  using type = nibble::stochastic_w4;
};
template <>
struct named_scheme<1> {
  static constexpr std::string_view name = "percentile", help = "scale from the 99.9th percentile of |W|";
  using type = nibble::percentile_w4;
};
template <>
struct named_scheme<2> {
  static constexpr std::string_view name = "lsq",
                                    help = "learned step sizes (LSQ); with --activations 4, for inputs too";
  using type = nibble::lsq_w4;
  using with_a4 = nibble::lsq_w4a4;
};
template <>
struct named_scheme<3> {
  static constexpr std::string_view name = "pot", help = "power-of-two levels through an annealed soft staircase; "
                                                         "with --activations 4, for inputs too";
  using type = nibble::pot_w4;
  using with_a4 = nibble::pot_w4a4;
};
inline constexpr std::size_t named_scheme_count = 4;

template <std::size_t I>
int run_named_scheme(const cifar_cli& c, const nibble::data::dataset& train_set,
                     const nibble::data::dataset& test_set) {
  using namespace nibble;
  auto with = [&]<class S>() {
    return c.arithmetic == "bf16" ? run_with<vgg4bit<10, with_arithmetic_t<S, bf16_arithmetic>>>(c, train_set, test_set)
                                  : run_with<vgg4bit<10, S>>(c, train_set, test_set);
  };
  if constexpr (requires { typename named_scheme<I>::with_a4; })
    if (c.activations == 4) return with.template operator()<typename named_scheme<I>::with_a4>();
  return with.template operator()<typename named_scheme<I>::type>();
}
#define NIBBLE_NAMED_SCHEME(i)                                                                      \
  extern template int run_named_scheme<i>(const cifar_cli&, const nibble::data::dataset&, \
                                          const nibble::data::dataset&);
NIBBLE_NAMED_SCHEME(0)
NIBBLE_NAMED_SCHEME(1)
NIBBLE_NAMED_SCHEME(2)
NIBBLE_NAMED_SCHEME(3)
#undef NIBBLE_NAMED_SCHEME

// --scheme: "paper" (the --bits preset) or one of the named schemes.
inline void add_scheme_option(CLI::App& app, cifar_cli& c) {
  std::vector<std::string> names = {"paper"};
  std::string help = "4-bit weight scheme: paper (the default; --bits picks 8 or 32 instead)";
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((names.emplace_back(named_scheme<I>::name),
      help += fmt::format(", {} ({})", named_scheme<I>::name, named_scheme<I>::help)),
     ...);
  }(std::make_index_sequence<named_scheme_count>{});
  app.add_option("--scheme", c.scheme, help + ". VGG4bit only")->check(CLI::IsMember(names))->capture_default_str();
}

inline int dispatch_named_scheme(const cifar_cli& c, const nibble::data::dataset& train_set,
                                 const nibble::data::dataset& test_set) {
  int result = 1;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (void)((c.scheme == named_scheme<I>::name && (result = run_named_scheme<I>(c, train_set, test_set), true)) ||
           ...);
  }(std::make_index_sequence<named_scheme_count>{});
  return result;
}

// Chooses one group at run time; nothing below main() switches again.
template <std::size_t Classes>
int dispatch(const cifar_cli& c, const nibble::data::dataset& train_set, const nibble::data::dataset& test_set) {
  if constexpr (Classes == 10)
    if (c.scheme != "paper") return dispatch_named_scheme(c, train_set, test_set);
  switch (c.bits) {
    case 4: return dispatch_bits<Classes, 4>(c, train_set, test_set);
    case 8: return dispatch_bits<Classes, 8>(c, train_set, test_set);
    default: return dispatch_bits<Classes, 32>(c, train_set, test_set);
  }
}

// More threads than cores only add per-thread buffers and contention.
inline void apply_threads(const cifar_cli& c) {
  const int cores = nibble::kernels::core_count();
  int threads = c.threads;
  if (threads > cores) {
    fmt::print(stderr, "warning: --threads {} is more than the {} cores of this machine; using {}\n", threads, cores,
               cores);
    threads = cores;
  }
  if (threads > 0) nibble::kernels::set_threads(threads);
  fmt::print("threads: {}\n", nibble::kernels::max_threads());
  if (!nibble::built_native)
    fmt::print(stderr, "note: built without -march=native (CMake: -DNIBBLE_NATIVE=ON, or link nibble::native): the "
                       "kernels run on baseline x86-64 instructions, well below this CPU's speed\n");
}
