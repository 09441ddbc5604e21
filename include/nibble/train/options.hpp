#pragma once
// The settings of a training run, and the check that refuses ones that
// cannot work before any work starts (a learning rate of NaN, a batch larger
// than the data), with the setting's name and value in the message.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <fmt/core.h>

#include "nibble/data/augment.hpp"

namespace nibble {

enum class lr_schedule {
  cosine,    // the paper's: cosine annealing over t_max epochs, stepped per epoch (after any warm-up)
  one_cycle,  // up, then down over the whole run, stepped per batch (one_cycle_schedule)
  triangle    // linearly up, then linearly down over the whole run, stepped per batch (triangle_schedule)
};

// How train()'s messages name the options a user can act on: the fields
// below by default; a program with a command line sets its flags' names
// (tools/cifar_cli.hpp), so that each speaks in its own terms.
struct option_names {
  std::string resume = "train_options::resume";
  std::string overwrite = "train_options::overwrite";
  std::string allow_changed_settings = "train_options::allow_changed_settings";
  std::string stop_after = "train_options::stop_after";
};

// Defaults are the paper's recipe.
struct train_options {
  std::size_t epochs = 150;
  std::size_t batch_size = 128;
  double learning_rate = 1e-3;
  double grad_clip = 0.5;  // max global gradient norm; 0 disables
  double t_max = 100;      // cosine period in epochs
  double warmup_epochs = 0;
  double min_learning_rate = 0;
  lr_schedule schedule = lr_schedule::cosine;
  double one_cycle_rise = 0.25;  // fraction of the run spent rising (one_cycle)
  float label_smoothing = 0;     // 0: one-hot targets
  data::augmentation augment{};  // of each training image; {0, false} for none
  bool test_flip = false;        // evaluate on each test image and its mirror image, averaging the logits
  int test_shift = 0;            // also on each test image shifted by ±test_shift pixels (eval_options::shift)
  float weight_average = 0;      // decay of a moving average of the weights, evaluated beside them (0: none)
  bool lookahead = false;        // pull the weights back to a running average of themselves (train/lookahead.hpp)
  std::size_t average_refresh_batches = 50;  // training batches (unaugmented) that refresh the average's
                                             // batch-norm statistics before it is tested (0: the live ones)
  std::uint64_t seed = 0;
  std::filesystem::path checkpoint_dir;  // empty: no checkpoints
  bool resume = false;                   // continue from checkpoint_dir/last.ckpt
  bool overwrite = false;                // discard an earlier run's checkpoint and metrics
  bool allow_changed_settings = false;   // resume even if settings differ (saying which)
  std::filesystem::path metrics_file;    // empty: none
  std::string model_name;                // a label for messages and checkpoints ("VGG4bit")
  bool progress = true;
  std::size_t max_batches = 0;  // per epoch, 0 = all (quick trials)
  std::size_t stop_after = 0;   // end this call after this many epochs, to resume later (0: run to `epochs`)
  option_names names{};         // in messages
};

namespace detail {
inline void require(bool ok, const std::string& what, double value) {
  if (!ok) throw std::invalid_argument(fmt::format("{} (got {})", what, value));
}
}  // namespace detail

inline void validate(const train_options& o, std::size_t training_images) {
  using detail::require;
  require(o.epochs >= 1, "the number of epochs must be at least 1", double(o.epochs));
  require(o.batch_size >= 1, "the batch size must be at least 1", double(o.batch_size));
  if (o.batch_size > training_images)
    throw std::invalid_argument(fmt::format("the batch size {} is larger than the training set ({} images)",
                                            o.batch_size, training_images));
  require(std::isfinite(o.learning_rate) && o.learning_rate > 0, "the learning rate must be a finite number above 0",
          o.learning_rate);
  require(std::isfinite(o.min_learning_rate) && o.min_learning_rate >= 0 && o.min_learning_rate <= o.learning_rate,
          "the minimum learning rate must lie between 0 and the learning rate", o.min_learning_rate);
  require(std::isfinite(o.grad_clip) && o.grad_clip >= 0, "the gradient clip must be a finite number, 0 or above",
          o.grad_clip);
  require(std::isfinite(o.t_max) && o.t_max > 0, "the cosine period (t_max) must be a finite number of epochs above 0",
          o.t_max);
  require(std::isfinite(o.warmup_epochs) && o.warmup_epochs >= 0,
          "the warm-up must be a finite number of epochs, 0 or above", o.warmup_epochs);
  require(std::isfinite(o.one_cycle_rise) && o.one_cycle_rise > 0 && o.one_cycle_rise < 1,
          "the one-cycle rise must be a fraction of the run between 0 and 1", o.one_cycle_rise);
  require(o.label_smoothing >= 0 && o.label_smoothing < 1, "label smoothing must lie in [0, 1)",
          double(o.label_smoothing));
  require(o.weight_average >= 0 && o.weight_average < 1, "the weight average's decay must lie in [0, 1)",
          double(o.weight_average));
  require(o.augment.pad >= 0, "the augmentation pad must be 0 or more pixels", double(o.augment.pad));
  require(o.augment.cutout >= 0, "the cutout square must be 0 or more pixels wide", double(o.augment.cutout));
  require(o.test_shift >= 0, "the test-time shift must be 0 or more pixels", double(o.test_shift));
  if (o.resume && o.overwrite)
    throw std::invalid_argument("resume and overwrite contradict each other: resume continues the earlier run, "
                                "overwrite discards it");
  if (o.resume && o.checkpoint_dir.empty()) throw std::invalid_argument("resume needs a checkpoint folder");
}

}  // namespace nibble
