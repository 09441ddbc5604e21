// The command line of train_cifar10 and train_cifar100: the flags, checked,
// with the network choice (--model, --scheme, --bits, --activations,
// --arithmetic) checked against the catalogue.
#pragma once
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <nibble/config.hpp>
#include <nibble/kernels/parallel.hpp>
#include <nibble/train/options.hpp>

#include "catalogue_lookup.hpp"
#include "cifar_recipes.hpp"
#include "cli_checks.hpp"

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
  std::string scheme = "paper";  // catalogue.hpp: a scheme's name, with --bits and --activations
  std::string recipe = "paper";  // cifar_recipes.hpp
  std::string recipe_line;       // the recipe's flags as they ended up, printed at start
  std::size_t classes = 10;      // the dataset's (train_cifar100: 100, or 20 with --labels coarse)
  std::string labels;            // train_cifar100's --labels
  bool show_kernels = false;     // print the kernels each layer runs
  nibble::train_options train;

  nibble::tools::choice to_choice() const {
    return {.network = model, .scheme = scheme, .bits = bits, .activations = activations,
            .bf16 = arithmetic == "bf16", .classes = classes};
  }
};

inline void add_common_options(CLI::App& app, cifar_cli& c, const std::string& default_data) {
  c.data = std::getenv("NIBBLE_DATA") ? std::getenv("NIBBLE_DATA") : default_data;
  auto& t = c.train;
  app.add_option("--data", c.data, "Folder with the official binary files (env NIBBLE_DATA)")->capture_default_str();
  app.add_option("--model", c.model, "Network: " + nibble::tools::model_help())
      ->check(CLI::IsMember(nibble::tools::model_names()))->capture_default_str();
  app.add_option("--bits", c.bits, "Weight bits: 4 (the paper's scheme), 8, or 32 (float baseline)")
      ->check(CLI::IsMember({4, 8, 32}))->capture_default_str();
  app.add_option("--activations", c.activations,
                 "Activation bits: 32 keeps them float (the paper's scheme); 8 or 4 quantizes the input of every "
                 "conv and linear layer to unsigned codes, for integer inference")
      ->check(CLI::IsMember({4, 8, 32}))->capture_default_str();
  app.add_option("--scheme", c.scheme, "Weight scheme, with --bits and --activations: " + nibble::tools::scheme_help())
      ->check(CLI::IsMember(nibble::tools::scheme_names()))->capture_default_str();
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
  app.add_flag("--show-kernels", c.show_kernels,
               "Print the kernels each layer runs on this machine (nibble/kernels/plan.hpp)");
  add_recipe_option(app, c.recipe);
  app.final_callback([&app, &c] {
    if (!c.labels.empty()) c.classes = c.labels == "coarse" ? 20 : 100;
    c.recipe_line = apply_recipe(app, c);
    if (c.norm_rate_factor != 1 && c.optimizer != "sgd")
      throw CLI::ValidationError("--norm-rate-factor", "is an SGD setting: add --optimizer sgd");
    // The catalogue says whether this network is built, and if not, what is.
    if (const std::string missing = nibble::tools::why_not_available(c.to_choice()); !missing.empty())
      throw CLI::ValidationError(missing);
  });
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
