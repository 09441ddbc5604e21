#pragma once
// The training loop: epochs of shuffled, augmented batches; forward, loss,
// backward, gradient-norm clip, optimizer step and the scheme's post-step
// clip; evaluation, checkpoint and metrics after every epoch.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "nibble/core/context.hpp"
#include "nibble/data/batch_loader.hpp"
#include "nibble/data/cifar.hpp"
#include "nibble/io/checkpoint.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/net/summary.hpp"
#include "nibble/train/loss.hpp"
#include "nibble/train/metrics.hpp"
#include "nibble/train/optimizer.hpp"
#include "nibble/train/progress.hpp"
#include "nibble/train/schedule.hpp"
#include "nibble/train/step.hpp"

namespace nibble {

// Defaults are the paper's recipe.
struct train_options {
  std::size_t epochs = 150;
  std::size_t batch_size = 128;
  double learning_rate = 1e-3;
  double weight_decay = 5e-4;
  double grad_clip = 0.5;  // max global gradient norm; 0 disables
  double t_max = 100;      // cosine period in epochs
  double warmup_epochs = 0;
  double min_learning_rate = 0;
  std::uint64_t seed = 0;
  std::filesystem::path checkpoint_dir;  // empty: no checkpoints
  bool resume = false;
  std::filesystem::path metrics_file;  // empty: none
  bool progress = true;
  std::size_t max_batches = 0;  // per epoch, 0 = all (quick trials)
};

template <class Net>
double evaluate(Net& net, const data::dataset& test, std::size_t batch_size, double* loss = nullptr,
                bool progress = false) {
  data::batch_loader loader(test, {.batch_size = batch_size, .shuffle = false, .augment = false});
  loader.start_epoch(0);
  context ctx{.phase = mode::eval};
  data::batch b;
  activation grad;
  std::size_t correct = 0, seen = 0;
  double total_loss = 0;
  progress_bar bar("  eval", loader.batches_per_epoch(), progress);
  for (std::size_t i = 0; loader.next(b); ++i) {
    const activation& logits = net.forward(b.images, ctx);
    const auto r = softmax_cross_entropy(logits, b.labels, grad);
    correct += r.correct;
    total_loss += r.loss * double(b.size());
    seen += b.size();
    bar.update(i + 1, seen, fmt::format("acc {:.2f}%", 100.0 * double(correct) / double(seen)));
  }
  if (loss) *loss = seen ? total_loss / double(seen) : 0.0;
  return seen ? double(correct) / double(seen) : 0.0;
}

// Trains `net` (already initialised) with `opt`; returns one entry per epoch
// run. Progress goes to stderr, the per-epoch summary to `log`.
template <class Net, class Optimizer>
std::vector<epoch_metrics> train(Net& net, Optimizer& opt, const data::dataset& train_set,
                                 const data::dataset& test_set, const train_options& o, std::FILE* log = stdout) {
  const cosine_schedule schedule{o.learning_rate, o.min_learning_rate, o.t_max, o.warmup_epochs};
  const std::filesystem::path ckpt = o.checkpoint_dir.empty() ? std::filesystem::path{} : o.checkpoint_dir / "last.ckpt";
  std::size_t first_epoch = 0;
  if (o.resume) {
    if (ckpt.empty()) throw std::invalid_argument("--resume needs a checkpoint folder");
    if (std::filesystem::exists(ckpt)) {
      first_epoch = load_checkpoint(ckpt, net, opt);
      fmt::print(log, "resumed from {} after epoch {}\n", ckpt.string(), first_epoch);
    } else {
      fmt::print(log, "no checkpoint at {}: starting from scratch\n", ckpt.string());
    }
  }
  metrics_writer metrics = o.metrics_file.empty() ? metrics_writer{} : metrics_writer(o.metrics_file, first_epoch > 0);

  data::batch_loader loader(train_set, {.batch_size = o.batch_size, .shuffle = true, .augment = true, .seed = o.seed});
  context ctx{.phase = mode::train};
  data::batch b;
  activation grad;
  std::vector<epoch_metrics> history;
  const std::size_t per_epoch =
      o.max_batches ? std::min(o.max_batches, loader.batches_per_epoch()) : loader.batches_per_epoch();

  for (std::size_t epoch = first_epoch; epoch < o.epochs; ++epoch) {
    ctx.phase = mode::train;
    ctx.rng.seed(o.seed * 1000003u + epoch);  // dropout masks reproducible per epoch
    loader.start_epoch(epoch);
    progress_bar bar(fmt::format("epoch {}/{}", epoch + 1, o.epochs), per_epoch, o.progress);
    double loss_sum = 0;
    std::size_t correct = 0, seen = 0;
    double lr = schedule.at(double(epoch));
    for (std::size_t i = 0; i < per_epoch && loader.next(b); ++i) {
      if (epoch < o.warmup_epochs) lr = schedule.at(double(epoch) + double(i) / double(per_epoch));
      const loss_result r = train_step(net, opt, b.images, b.labels, float(lr), o.grad_clip, grad, ctx);
      loss_sum += r.loss * double(b.size());
      correct += r.correct;
      seen += b.size();
      bar.update(i + 1, seen,
                 fmt::format("loss {:.3f} acc {:.2f}%", loss_sum / double(seen), 100.0 * double(correct) / double(seen)));
    }
    const double train_seconds = bar.elapsed();

    epoch_metrics m;
    m.epoch = epoch + 1;
    m.learning_rate = lr;
    m.train_loss = loss_sum / double(std::max<std::size_t>(seen, 1));
    m.train_accuracy = double(correct) / double(std::max<std::size_t>(seen, 1));
    m.train_images_per_second = double(seen) / train_seconds;
    const progress_bar eval_clock("", 0, false);
    m.test_accuracy = evaluate(net, test_set, o.batch_size, &m.test_loss, o.progress);
    m.eval_images_per_second = double(test_set.size()) / eval_clock.elapsed();
    m.seconds = train_seconds + eval_clock.elapsed();
    m.weight_levels = distinct_weight_levels(net);
    const auto size = measure_model_size(net);
    m.fp32_bytes = size.fp32_bytes;
    m.packed_bytes = size.packed_bytes;

    fmt::print(log,
               "epoch {:>3}/{}  lr {:.3g}  train loss {:.4f} acc {:.2f}%  test loss {:.4f} acc {:.2f}%  "
               "{:.0f} img/s  {}\n  weight levels per layer: [{}]  model: {:.2f} MB fp32, {:.2f} MB packed "
               "({:.1f}x smaller)\n",
               m.epoch, o.epochs, m.learning_rate, m.train_loss, 100 * m.train_accuracy, m.test_loss,
               100 * m.test_accuracy, m.train_images_per_second, format_duration(m.seconds),
               fmt::join(m.weight_levels, " "), double(m.fp32_bytes) / 1e6, double(m.packed_bytes) / 1e6,
               double(m.fp32_bytes) / double(std::max<std::size_t>(m.packed_bytes, 1)));
    std::fflush(log);
    metrics.write(m);
    if (!ckpt.empty()) save_checkpoint(ckpt, net, opt, std::uint32_t(epoch + 1));
    history.push_back(std::move(m));
  }
  return history;
}

}  // namespace nibble
