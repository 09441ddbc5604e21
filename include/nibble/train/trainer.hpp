#pragma once
// The training loop: epochs of shuffled, augmented batches; forward, loss,
// backward, gradient-norm clip, optimizer step and the scheme's post-step
// clip; evaluation, checkpoint and metrics after every epoch. With
// o.weight_average, a moving average of the weights is kept too, evaluated
// after each epoch beside the weights themselves (with batch-norm
// statistics refreshed for it on o.average_refresh_batches training
// batches), and checkpointed. With o.lookahead the weights are pulled back
// to a running average of themselves every few steps (train/lookahead.hpp).
//
// What a run guarantees, whenever and however it stops:
// - Before any work, every output is checked: folders are created and
//   proven writable, and a checkpoint or metrics file of an earlier run is
//   never replaced unless the options say resume or overwrite.
// - The checkpoint (checkpoint_dir/last.ckpt) is written atomically after
//   each epoch and holds the run's settings and whole history; the metrics
//   file is rewritten from that history right after, so it never lists an
//   epoch the checkpoint lacks, and a resume rewrites it to match.
// - A non-finite loss or gradient stops the run (training_diverged) before
//   it touches the weights; non-finite weights or test loss stop it before
//   the checkpoint is written. The last good checkpoint stays as it was.
// - A resume with other settings is refused (settings_changed), except the
//   number of epochs and threads, or when allow_changed_settings says so.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "nibble/config.hpp"
#include "nibble/core/context.hpp"
#include "nibble/data/batch_loader.hpp"
#include "nibble/data/dataset.hpp"
#include "nibble/io/checkpoint.hpp"
#include "nibble/io/files.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/net/weight_statistics.hpp"
#include "nibble/train/evaluate.hpp"
#include "nibble/train/lookahead.hpp"
#include "nibble/train/loss.hpp"
#include "nibble/train/metrics.hpp"
#include "nibble/train/optimizer.hpp"
#include "nibble/train/options.hpp"
#include "nibble/train/progress.hpp"
#include "nibble/train/run_settings.hpp"
#include "nibble/train/schedule.hpp"
#include "nibble/train/step.hpp"
#include "nibble/train/weight_average.hpp"

namespace nibble {

// The loss, a gradient, a weight or the test loss stopped being finite.
class training_diverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// The outputs hold an earlier run that the options do not say to resume or
// overwrite.
class earlier_run_exists : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// A resume whose settings differ from the checkpoint's.
class settings_changed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

inline std::filesystem::path checkpoint_path(const train_options& o) {
  return o.checkpoint_dir.empty() ? std::filesystem::path{} : o.checkpoint_dir / "last.ckpt";
}

// What an earlier run left in the checkpoint, in words.
inline std::string describe_earlier_checkpoint(const std::filesystem::path& file) {
  try {
    const checkpoint c = checkpoint::read(file);
    std::string epochs = "?";
    for (const auto& [key, value] : c.run().settings)
      if (key == "epochs") epochs = value;
    return fmt::format("a run after epoch {} of {}", c.run().epochs_done, epochs);
  } catch (const std::exception& e) {
    return std::string("a checkpoint that cannot be read: ") + e.what();
  }
}

// Every check on the outputs, before any work: usable folders, and nothing
// of an earlier run destroyed unless asked.
inline void prepare_outputs(const train_options& o, std::FILE* log) {
  namespace fs = std::filesystem;
  const fs::path ckpt = checkpoint_path(o);
  std::error_code ec;
  if (!o.metrics_file.empty()) {
    metrics_format_of(o.metrics_file);
    if (fs::is_directory(o.metrics_file, ec))
      throw io::io_error("cannot use metrics file " + io::quoted(o.metrics_file) + ": it is a folder");
    io::ensure_writable_folder(io::detail::folder_of(o.metrics_file), "metrics folder");
  }
  if (!ckpt.empty()) io::ensure_writable_folder(o.checkpoint_dir, "checkpoint folder");

  // Temporaries of a write that a crash cut short are never valid.
  for (const fs::path& f : {ckpt, o.metrics_file})
    if (!f.empty()) fs::remove(io::temporary_path(f), ec);

  const bool have_checkpoint = !ckpt.empty() && fs::exists(ckpt, ec);
  const bool have_metrics =
      !o.metrics_file.empty() && fs::exists(o.metrics_file, ec) && fs::file_size(o.metrics_file, ec) > 0;
  const std::string choices = fmt::format("Resume it ({}), discard it and start again ({}), or choose another ",
                                          o.names.resume, o.names.overwrite);
  if (!o.resume && !o.overwrite) {
    if (have_checkpoint)
      throw earlier_run_exists("checkpoint folder " + io::quoted(o.checkpoint_dir) + " already holds " +
                               describe_earlier_checkpoint(ckpt) + ". " + choices + "checkpoint folder.");
    if (have_metrics)
      throw earlier_run_exists("metrics file " + io::quoted(o.metrics_file) + " already holds an earlier run's " +
                               "metrics. " + choices + "metrics file.");
  }
  if (o.resume && !have_checkpoint && have_metrics)
    throw earlier_run_exists("metrics file " + io::quoted(o.metrics_file) + " holds an earlier run's metrics, but " +
                             io::quoted(o.checkpoint_dir) + " has no checkpoint to resume it from. Discard it (" +
                             o.names.overwrite + ") or choose another metrics file.");
  if (o.overwrite) {
    for (const fs::path& f : {ckpt, o.metrics_file})
      if (!f.empty() && fs::exists(f, ec)) {
        if (!fs::remove(f, ec) && ec)
          throw io::io_error("cannot discard " + io::quoted(f) + ": " + ec.message());
        fmt::print(log, "overwrite: discarded {}\n", io::quoted(f));
      }
  }
}

inline void check_settings(const setting_list& saved, const setting_list& now, const train_options& o,
                           std::FILE* log) {
  const auto changes = compare_settings(saved, now);
  std::string refused, noted;
  for (const auto& c : changes) {
    const std::string line = fmt::format("\n  {}: {} in the checkpoint, {} now", c.key, c.saved, c.now);
    (c.allowed ? noted : refused) += line;
  }
  if (!refused.empty() && !o.allow_changed_settings)
    throw settings_changed("this run's settings differ from those of the checkpoint it resumes:" + refused +
                           "\nResume with the checkpoint's settings, or set " + o.names.allow_changed_settings +
                           " to go on with the new ones (the run then no longer follows one recipe).");
  if (!refused.empty())
    fmt::print(log, "resuming with changed settings ({}):{}\n", o.names.allow_changed_settings, refused);
  if (!noted.empty())
    fmt::print(log, "resuming with changed settings:{}{}\n", noted,
               noted.find("threads") != std::string::npos
                   ? "\n  (another thread count changes the order of float sums: the run will not equal an "
                     "uninterrupted one bit for bit)"
                   : "");
}

template <class Net>
bool all_finite(Net& net) {
  bool ok = true;
  net.visit_parameters([&](parameter& p) {
    for (float v : p.value) ok = ok && std::isfinite(v);
  });
  net.visit_buffers([&](xt::xtensor<float, 1>& b) {
    for (float v : b) ok = ok && std::isfinite(v);
  });
  return ok;
}

// Everything about the two sets that would make the run meaningless or
// fail later, refused before any work: each set unusable on its own, images
// of another shape than the network takes, more classes than outputs, and
// a training and test set normalised differently.
template <class Net, class Sample>
void check_data(const data::basic_dataset<Sample>& train_set, const data::basic_dataset<Sample>& test_set) {
  data::check_dataset(train_set, "the training set");
  data::check_dataset(test_set, "the test set");
  using In = typename Net::input_shape;
  using Out = typename Net::output_shape;
  const data::image_shape takes{In::channels, In::height, In::width};
  for (const auto* set : {&train_set, &test_set})
    if (set->shape != takes)
      throw std::invalid_argument(fmt::format("the network takes {} images, but the {} set holds {} images",
                                              takes.text(), set == &train_set ? "training" : "test",
                                              set->shape.text()));
  if (std::size_t(train_set.classes) > Out::size || std::size_t(test_set.classes) > Out::size)
    throw std::invalid_argument(fmt::format("the data has {} classes but the network has {} outputs",
                                            std::max(train_set.classes, test_set.classes), Out::size));
  if (train_set.norm != test_set.norm)
    throw std::invalid_argument(fmt::format(
        "the training set is normalised with mean ({}) and deviation ({}), the test set with mean ({}) and "
        "deviation ({}): give both the same normalisation (usually the training set's)",
        fmt::join(train_set.norm.mean, ", "), fmt::join(train_set.norm.std, ", "), fmt::join(test_set.norm.mean, ", "),
        fmt::join(test_set.norm.std, ", ")));
}

// The weight average of a resumed run, from its checkpoint; a run that kept
// none before (its settings changed, as allowed) starts one now.
template <class Net>
void restore_weight_average(const checkpoint& c, Net& net, weight_average& average, std::FILE* log) {
  if (c.run().weight_average.empty()) {
    fmt::print(log, "the checkpoint holds no weight average: starting one now\n");
    return;
  }
  io::byte_reader r(c.run().weight_average, "checkpoint, weight average");
  average.load(r, parameter_sizes(net));
}

inline std::string last_good_state(const std::filesystem::path& ckpt, std::size_t epochs_done) {
  if (ckpt.empty()) return "No checkpoint folder was given, so there is no checkpoint.";
  if (epochs_done == 0) return "No epoch had finished, so no checkpoint was written.";
  return fmt::format("The checkpoint {} (after epoch {}) is unchanged.", io::quoted(ckpt), epochs_done);
}

// Once per process, on stderr: the code calling train() was compiled
// without optimisation, as Google Benchmark warns of a debug build.
template <bool Optimised>
void note_if_unoptimised() {
  if constexpr (!Optimised) {
    static std::once_flag once;
    std::call_once(once, [] {
      fmt::print(stderr, "note: this program was compiled without optimisation (no -O flag: with CMake, an empty "
                         "CMAKE_BUILD_TYPE); nibble trains some 60 times slower than in a Release build "
                         "(-DCMAKE_BUILD_TYPE=Release)\n");
    });
  }
}

}  // namespace detail

// Trains `net` (already initialised) with `opt`; returns one entry per epoch
// run by this call (the last one's test figures are the final evaluation).
// Progress goes to stderr, the per-epoch summary to `log`.
template <class Net, class Optimizer, class Sample>
std::vector<epoch_metrics> train(Net& net, Optimizer& opt, const data::basic_dataset<Sample>& train_set,
                                 const data::basic_dataset<Sample>& test_set, const train_options& o,
                                 std::FILE* log = stdout) {
  detail::note_if_unoptimised<built_optimised>();
  validate(o, train_set.size());
  detail::check_data<Net>(train_set, test_set);
  detail::prepare_outputs(o, log);
  const std::filesystem::path ckpt = detail::checkpoint_path(o);
  const setting_list settings = run_settings(o, opt, train_set, kernels::max_threads());

  std::vector<epoch_metrics> history;  // every epoch of the run, resumed ones included
  std::optional<weight_average> average;
  if (o.weight_average > 0) average.emplace(o.weight_average);
  std::size_t first_epoch = 0;
  if (o.resume) {
    if (std::filesystem::exists(ckpt)) {
      const checkpoint c = checkpoint::read(ckpt);
      detail::check_settings(c.run().settings, settings, o, log);
      c.restore(net, opt, o.model_name);
      if (average) detail::restore_weight_average(c, net, *average, log);
      history = decode_history(c.run().history, "checkpoint " + io::quoted(ckpt) + ", history");
      first_epoch = std::size_t(c.run().epochs_done);
      if (history.size() != first_epoch)
        throw io::io_error(fmt::format("checkpoint {} is inconsistent: {} epochs done but {} in its history",
                                       io::quoted(ckpt), first_epoch, history.size()));
      fmt::print(log, "resumed from {} after epoch {}\n", ckpt.string(), first_epoch);
    } else {
      fmt::print(log, "no checkpoint at {}: starting from scratch\n", ckpt.string());
    }
  }
  // The metrics file is rewritten to match the checkpoint; a new run writes
  // it after its first epoch, so a run killed before that leaves nothing
  // that would block its own --resume.
  if (!o.metrics_file.empty() && !history.empty()) write_metrics_file(o.metrics_file, history);
  if (first_epoch >= o.epochs) {
    fmt::print(log, "the run is complete: {} of {} epochs done\n", first_epoch, o.epochs);
    return {};
  }

  const cosine_schedule schedule{o.learning_rate, o.min_learning_rate, o.t_max, o.warmup_epochs};
  const one_cycle_schedule cycle{.max_lr = o.learning_rate, .total_epochs = double(o.epochs),
                                 .rise_fraction = o.one_cycle_rise};
  const triangle_schedule triangle{.peak_lr = o.learning_rate, .total_epochs = double(o.epochs)};
  std::optional<lookahead> pull_back;
  if (o.lookahead) pull_back.emplace();
  data::basic_batch_loader<Sample> loader(train_set, {.batch_size = o.batch_size, .shuffle = true, .augment = true,
                                       .aug = o.augment, .seed = o.seed});
  context ctx{.phase = mode::train, .seed = o.seed};
  // The first training batches, in order and unaugmented, refresh the
  // weight average's batch-norm statistics; the run's own loader does not move.
  std::optional<data::basic_batch_loader<Sample>> refresh;
  if (average)
    refresh.emplace(train_set, data::loader_options{.batch_size = o.batch_size, .shuffle = false, .augment = false,
                                                    .seed = o.seed});
  data::batch b;
  activation grad;
  std::vector<epoch_metrics> ran;
  const std::size_t per_epoch =
      o.max_batches ? std::min(o.max_batches, loader.batches_per_epoch()) : loader.batches_per_epoch();

  for (std::size_t epoch = first_epoch; epoch < o.epochs; ++epoch) {
    ctx.phase = mode::train;
    ctx.rng.seed(o.seed * 1000003u + epoch);  // dropout masks reproducible per epoch
    loader.start_epoch(epoch);
    progress_bar bar(fmt::format("epoch {}/{}", epoch + 1, o.epochs), per_epoch, o.progress);
    double seconds_so_far = 0;
    for (const auto& m : history) seconds_so_far += m.seconds;
    bar.set_run_remaining(o.epochs - epoch - 1, history.empty() ? 0.0 : seconds_so_far / double(history.size()));
    double loss_sum = 0;
    std::size_t correct = 0, seen = 0;
    double lr = schedule.at(double(epoch));
    if (pull_back) pull_back->begin_epoch(net, epoch);
    for (std::size_t i = 0; i < per_epoch && loader.next(b); ++i) {
      const double t = double(epoch) + double(i) / double(per_epoch);
      if (o.schedule == lr_schedule::one_cycle)
        lr = cycle.at(t);
      else if (o.schedule == lr_schedule::triangle)
        lr = triangle.at(t);
      else if (epoch < o.warmup_epochs)
        lr = schedule.at(t);
      ctx.begin_step(epoch * per_epoch + i);  // counter-based draws (stochastic rounding) by step
      ctx.progress = float(t / double(o.epochs));  // annealed quantizers (soft staircase)
      const step_result r =
          train_step(net, opt, b.images, b.labels, float(lr), o.grad_clip, grad, ctx, o.label_smoothing);
      if (!r.applied)
        throw training_diverged(fmt::format(
            "training diverged in epoch {}, batch {} of {}: the loss is {} and the gradient norm {} (learning rate "
            "{:.3g}). The weights were not updated with this batch. {} Try a lower learning rate or a gradient clip.",
            epoch + 1, i + 1, per_epoch, r.loss, std::isfinite(r.loss) ? fmt::format("{:.4g}", r.gradient_norm)
                                                                        : std::string("was not computed"),
            lr, detail::last_good_state(ckpt, epoch)));
      if (pull_back) pull_back->after_step(net, epoch, epoch * per_epoch + i + 1, o.epochs * per_epoch);
      if (average) average->update(net);
      loss_sum += r.loss * double(b.size());
      correct += r.correct;
      seen += b.size();
      bar.update(i + 1, seen,
                 fmt::format("loss {:.3f} acc {:.2f}%", loss_sum / double(seen), 100.0 * double(correct) / double(seen)));
    }
    if (pull_back) pull_back->end_epoch(net);
    const double train_seconds = bar.elapsed();

    epoch_metrics m;
    m.epoch = epoch + 1;
    m.learning_rate = lr;
    m.train_loss = loss_sum / double(std::max<std::size_t>(seen, 1));
    m.train_accuracy = double(correct) / double(std::max<std::size_t>(seen, 1));
    m.train_images_per_second = double(seen) / train_seconds;
    const eval_options eval{
        .batch_size = o.batch_size, .flip = o.test_flip, .shift = o.test_shift, .progress = o.progress};
    const progress_bar eval_clock("", 0, false);
    const evaluation e = evaluate(net, test_set, eval);
    m.test_accuracy = e.accuracy;
    m.test_loss = e.loss;
    m.eval_images_per_second = double(test_set.size()) / eval_clock.elapsed();
    double average_plain = 0;
    if (average && average->updates() > 0) {
      refresh->start_epoch(0);
      std::size_t refreshed = 0;
      data::batch rb;
      const auto next = [&](activation& x) {
        if (refreshed == o.average_refresh_batches || !refresh->next(rb)) return false;
        ++refreshed;
        std::swap(x, rb.images);
        return true;
      };
      with_average(*average, net, next, [&] {
        const evaluation a = evaluate(net, test_set, eval);
        m.averaged = true;
        m.average_test_accuracy = a.accuracy;
        m.average_test_loss = a.loss;
        average_plain = a.plain_accuracy;
      });
    }
    m.seconds = train_seconds + eval_clock.elapsed();
    if (!detail::all_finite(net) || !std::isfinite(m.test_loss))
      throw training_diverged(fmt::format(
          "training diverged in epoch {}: {} after its last batch. This epoch was not saved. {} Try a lower "
          "learning rate or a gradient clip.",
          epoch + 1, std::isfinite(m.test_loss) ? "some weights are not finite" : "the test loss is not finite",
          detail::last_good_state(ckpt, epoch)));
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
    if (!eval.plain())  // what the test-time views add, from the same pass
      fmt::print(log, "  test acc without test-time views: {:.2f}%{}\n", 100 * e.plain_accuracy,
                 m.averaged ? fmt::format(", weight average {:.2f}%", 100 * average_plain) : "");
    if (m.averaged)
      fmt::print(log, "  weight average (decay {}): test loss {:.4f} acc {:.2f}%\n", average->decay(),
                 m.average_test_loss, 100 * m.average_test_accuracy);
    std::fflush(log);
    history.push_back(m);
    ran.push_back(std::move(m));
    // Checkpoint first, then the metrics view of it.
    if (!ckpt.empty()) {
      checkpoint_run run{epoch + 1, o.model_name, settings, encode_history(history), {}};
      if (average) {
        io::byte_writer w;
        average->save(w);
        run.weight_average = w.take();
      }
      save_checkpoint(ckpt, net, opt, run);
    }
    if (!o.metrics_file.empty()) write_metrics_file(o.metrics_file, history);
    if (o.stop_after > 0 && ran.size() == o.stop_after && epoch + 1 < o.epochs) {
      fmt::print(log, "stopped after {} epochs of this call ({}): {} of {} done; resume to go on\n", o.stop_after,
                 o.names.stop_after, epoch + 1, o.epochs);
      break;
    }
  }
  return ran;
}

}  // namespace nibble
