// --recipe: a named set of training flags for the CIFAR trainers. "paper"
// is the flags' own defaults (the paper's recipe); "fast" is a 20-epoch
// schedule after the fastest CIFAR-10 recipes, on FastVGG where the program
// builds it; "airbench" is airbench94's recipe stretched to 20 epochs, on
// its network (WhitenedVGG, train_cifar10 only). Their runs are in
// docs/results/README.md.
// A flag given on the command line wins over the recipe's value, and the
// run prints the recipe's flags as they end up.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include "catalogue_lookup.hpp"

inline void add_recipe_option(CLI::App& app, std::string& recipe) {
  app.add_option("--recipe", recipe,
                 "paper (the defaults below), fast (20 epochs: SGD with Nesterov momentum, one-cycle rate, label "
                 "smoothing, test-time flip; FastVGG in train_cifar10) or airbench (airbench94's recipe over 20 "
                 "epochs on WhitenedVGG, train_cifar10 only); flags given explicitly override the recipe's")
      ->check(CLI::IsMember({"paper", "fast", "airbench"}))
      ->capture_default_str();
}

// Sets each of the recipe's flags the command line left alone; returns the
// line the run prints ("" for the paper recipe, which is the defaults).
template <class Cli>
std::string apply_recipe(const CLI::App& app, Cli& c) {
  if (c.recipe == "paper") return {};
  std::vector<std::string> shown;
  auto set = [&](std::string_view flag, auto& field, auto value) {
    const bool given = app.count(std::string(flag)) > 0;
    if (!given) field = value;
    shown.push_back(fmt::format("{} {}{}", flag, field, given ? " (given)" : ""));
  };
  auto& t = c.train;
  if (c.recipe == "airbench") {
    // airbench94's settings in nibble's terms: its rate 11.5 and decay
    // 0.0153 are per 1,024 summed examples and decoupled from the momentum;
    // nibble averages the loss over the batch, so the rate is
    // 11.5 / (1 + 1 / (1 − 0.85)) = 1.5 and the L2 decay 0.0153 / 11.5 ≈ 0.00133.
    set("--model", c.model, std::string("whitened-vgg"));
    set("--epochs", t.epochs, std::size_t(20));
    set("--batch-size", t.batch_size, std::size_t(1024));
    set("--optimizer", c.optimizer, std::string("sgd"));
    set("--momentum", c.momentum, 0.85);
    set("--nesterov", c.nesterov, true);
    set("--weight-decay", c.weight_decay, 0.00133);
    set("--norm-rate-factor", c.norm_rate_factor, 64.0);
    set("--schedule", c.schedule, std::string("triangle"));
    set("--lr", t.learning_rate, 1.5);
    set("--grad-clip", t.grad_clip, 0.0);
    set("--label-smoothing", t.label_smoothing, 0.2f);
    set("--pad", t.augment.pad, 2);
    set("--reflect-pad", t.augment.reflect, true);
    set("--alternate-flip", t.augment.alternate_flip, true);
    set("--lookahead", t.lookahead, true);
    set("--test-flip", t.test_flip, true);
    set("--test-shift", t.test_shift, 1);
    return fmt::format("recipe {}: {}", c.recipe, fmt::join(shown, ", "));
  }
  if (nibble::tools::has_network("fast-vgg", c.classes)) set("--model", c.model, std::string("fast-vgg"));
  set("--epochs", t.epochs, std::size_t(20));
  set("--batch-size", t.batch_size, std::size_t(128));
  set("--optimizer", c.optimizer, std::string("sgd"));
  set("--momentum", c.momentum, 0.9);
  set("--nesterov", c.nesterov, true);
  set("--weight-decay", c.weight_decay, 5e-4);
  set("--schedule", c.schedule, std::string("one-cycle"));
  set("--lr", t.learning_rate, 0.1);
  set("--one-cycle-rise", t.one_cycle_rise, 0.25);
  set("--grad-clip", t.grad_clip, 0.0);
  set("--label-smoothing", t.label_smoothing, 0.1f);
  set("--test-flip", t.test_flip, true);
  return fmt::format("recipe {}: {}", c.recipe, fmt::join(shown, ", "));
}
