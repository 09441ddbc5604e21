// What train_cifar10 and train_cifar100 do with the variant of the
// catalogue the command line picked: build it, start it (from scratch, a
// float checkpoint or a resumed run) and hand it to nibble::train. Compiled
// once per variant (tools/catalogue_shard.cpp).
#pragma once
#include <algorithm>
#include <memory>
#include <random>
#include <string>

#include <fmt/core.h>

#include <nibble/data/cifar.hpp>
#include <nibble/io/init_from_float.hpp>
#include <nibble/layers/patch_whitening.hpp>
#include <nibble/net/describe.hpp>
#include <nibble/kernels/plan.hpp>
#include <nibble/net/summary.hpp>
#include <nibble/train/trainer.hpp>

#include "cifar_cli.hpp"

template <class Variant>
int train_variant(const cifar_cli& c, const nibble::data::dataset& train_set, const nibble::data::dataset& test_set) {
  using Net = typename Variant::trained;
  auto net = std::make_unique<Net>();
  std::mt19937_64 rng(c.train.seed);
  net->init(rng);
  nibble::train_options options = c.train;
  options.schedule = c.schedule == "one-cycle" ? nibble::lr_schedule::one_cycle
                     : c.schedule == "triangle" ? nibble::lr_schedule::triangle
                                                : nibble::lr_schedule::cosine;
  options.model_name = std::string(Variant::network::label);
  options.names = {.resume = "--resume", .overwrite = "--overwrite",
                   .allow_changed_settings = "--allow-changed-settings", .stop_after = "--stop-after"};
  // Fixed first-layer filters come from the data: the first 5,000 training
  // images as training feeds them, unaugmented (a resume restores them).
  if (const std::size_t n = std::min<std::size_t>(5000, train_set.size());
      nibble::fit_patch_whitening(*net, nibble::data::normalised_images(train_set, 0, n)) > 0)
    fmt::print("patch whitening: filters fitted to the first {} training images\n", n);
  const nibble::network_description description = nibble::describe_network<Net>();
  if (!c.recipe_line.empty()) fmt::print("{}\n", c.recipe_line);
  fmt::print("network: {}, {}; optimizer {}\n", options.model_name, description.summary, c.optimizer);
  for (const std::string& s : description.schemes) fmt::print("scheme: {}\n", s);
  fmt::print("{}\n", nibble::kernels::describe_machine());
  if (c.show_kernels) fmt::print("{}", nibble::kernels_used<Net>());
  if constexpr (!Variant::deploys)
    fmt::print("note: cifar_model cannot export this network: {}\n", Variant::no_deploy);
  if (!c.init_from.empty()) {
    const nibble::checkpoint from = nibble::checkpoint::read(c.init_from);
    try {
      nibble::init_from_float(from, *net, options.model_name);
    } catch (const nibble::checkpoint_error& e) {
      throw nibble::checkpoint_error(std::string(e.what()) + " (the float network is the one trained with --bits 32)");
    }
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

