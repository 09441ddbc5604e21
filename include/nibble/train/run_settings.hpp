#pragma once
// A run's settings as its checkpoints record them: every choice that decides
// the numbers the run produces. Resuming compares them with the new run's,
// so that another batch size, seed, learning rate, optimizer or data set
// cannot slip in unnoticed.
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "nibble/data/cifar.hpp"
#include "nibble/data/dataset.hpp"
#include "nibble/io/crc32.hpp"
#include "nibble/train/options.hpp"

namespace nibble {

using setting_list = std::vector<std::pair<std::string, std::string>>;

// Settings that may change on resume: the run's length, and the thread
// count (which changes only the order of float sums).
inline bool setting_may_change(const std::string& key) { return key == "epochs" || key == "threads"; }

// Settings added after checkpoints were first written are recorded only when
// they differ from what those runs did (CIFAR images, their statistics, the
// pad-4 crop and flip without cutout), so that older checkpoints still resume.
template <class Optimizer, class Sample>
setting_list run_settings(const train_options& o, const Optimizer& opt, const data::basic_dataset<Sample>& train_set,
                          int threads) {
  setting_list s;
  auto add = [&](std::string key, std::string value) { s.emplace_back(std::move(key), std::move(value)); };
  add("optimizer", std::string(Optimizer::name));
  for (auto& [key, value] : opt.settings()) add("optimizer " + key, value);
  add("batch_size", std::to_string(o.batch_size));
  add("learning_rate", fmt::format("{}", o.learning_rate));
  add("min_learning_rate", fmt::format("{}", o.min_learning_rate));
  add("grad_clip", fmt::format("{}", o.grad_clip));
  add("t_max", fmt::format("{}", o.t_max));
  add("warmup_epochs", fmt::format("{}", o.warmup_epochs));
  if (o.schedule == lr_schedule::one_cycle) {
    add("schedule", "one_cycle");
    add("one_cycle_rise", fmt::format("{}", o.one_cycle_rise));
    add("one_cycle_epochs", std::to_string(o.epochs));  // the cycle spans the run: its length is the recipe
  }
  if (o.schedule == lr_schedule::triangle) {
    add("schedule", "triangle");
    add("triangle_epochs", std::to_string(o.epochs));
  }
  if (o.lookahead) {  // its pull grows with the fraction of the run done: the length is the recipe
    add("lookahead", "from epoch 4, every 5 steps");
    add("lookahead_epochs", std::to_string(o.epochs));
  }
  if (o.label_smoothing > 0) add("label_smoothing", fmt::format("{}", o.label_smoothing));
  if (o.weight_average > 0) add("weight_average", fmt::format("{}", o.weight_average));
  add("seed", std::to_string(o.seed));
  add("max_batches", std::to_string(o.max_batches));
  if (o.augment != data::augmentation{})
    add("augmentation", fmt::format("pad {}{}, flip {}{}", o.augment.pad, o.augment.reflect ? " reflected" : "",
                                    !o.augment.flip ? "no" : o.augment.alternate_flip ? "alternating" : "yes",
                                    o.augment.cutout > 0 ? fmt::format(", cutout {}", o.augment.cutout) : ""));
  if (!std::is_same_v<Sample, std::uint8_t>) add("samples", "float");
  if (train_set.shape != data::cifar_image) add("image_shape", train_set.shape.text());
  if (train_set.norm != data::cifar_normalisation())
    add("normalisation", fmt::format("mean ({}), deviation ({})", fmt::join(train_set.norm.mean, ", "),
                                     fmt::join(train_set.norm.std, ", ")));
  add("training_images", std::to_string(train_set.size()));
  add("classes", std::to_string(train_set.classes));
  const auto pixels = std::as_bytes(std::span(train_set.pixels));
  const auto labels = std::as_bytes(std::span(train_set.labels));
  add("training_data_crc32", fmt::format("{:08x}", io::crc32(labels, io::crc32(pixels))));
  add("epochs", std::to_string(o.epochs));
  add("threads", std::to_string(threads));
  return s;
}

struct setting_change {
  std::string key, saved, now;  // "(none)" where one side lacks the setting
  bool allowed = false;
};

inline std::vector<setting_change> compare_settings(const setting_list& saved, const setting_list& now) {
  auto find = [](const setting_list& list, const std::string& key) -> const std::string* {
    for (const auto& [k, v] : list)
      if (k == key) return &v;
    return nullptr;
  };
  std::vector<setting_change> changes;
  auto note = [&](const std::string& key) {
    const std::string *a = find(saved, key), *b = find(now, key);
    if (a && b && *a == *b) return;
    for (const auto& c : changes)
      if (c.key == key) return;
    changes.push_back({key, a ? *a : "(none)", b ? *b : "(none)", setting_may_change(key)});
  };
  for (const auto& [key, value] : saved) note(key);
  for (const auto& [key, value] : now) note(key);
  return changes;
}

}  // namespace nibble
