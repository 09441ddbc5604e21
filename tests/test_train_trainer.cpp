// The training loop as a user meets it: it learns; a resumed run equals an
// uninterrupted one; it refuses to destroy an earlier run, to resume with
// other settings, or to start with unusable settings or outputs; it stops
// on divergence with the last good checkpoint intact; its metrics file and
// checkpoint agree.
#include <catch2/catch.hpp>

#include <set>

#include <cmath>
#include <cstdio>
#include <limits>

#include "nibble/quant/presets.hpp"
#include "nibble/train/trainer.hpp"
#include "training_fixtures.hpp"

using namespace nibble;
using fixtures::small_net;
namespace fs = std::filesystem;

namespace {

struct trial {
  fs::path dir = fixtures::fresh_folder("trainer_" + std::to_string(counter++));
  data::dataset train_set = fixtures::colour_dataset(96, 1), test_set = fixtures::colour_dataset(64, 2);
  train_options o = [this] {
    train_options t;
    t.epochs = 4;
    t.batch_size = 16;
    t.learning_rate = 1e-2;
    t.progress = false;
    t.seed = 5;
    t.checkpoint_dir = dir / "ckpt";
    t.metrics_file = dir / "metrics.csv";
    return t;
  }();
  std::FILE* log = std::tmpfile();
  ~trial() {
    std::fclose(log);
    fs::remove_all(dir);
  }

  // A fresh network and optimizer, as a new process would have.
  template <class Optimizer = adamw, class Scheme = paper_4bit>
  std::vector<epoch_metrics> run(const train_options& options, small_net<Scheme>* out = nullptr) {
    small_net<Scheme> net;
    std::mt19937_64 rng(3);
    net.init(rng);
    Optimizer opt;
    auto history = train(net, opt, train_set, test_set, options, log);
    if (out) *out = net;
    return history;
  }
  // The same run stopped after `first` epochs and resumed by a fresh
  // network and optimizer, as a new process would; returns the resumed part.
  template <class Optimizer = adamw, class Scheme = paper_4bit>
  std::vector<epoch_metrics> run_resumed(std::size_t first, small_net<Scheme>* out) {
    const std::size_t total = o.epochs;
    o.epochs = first;
    run<Optimizer, Scheme>(o);
    o.epochs = total;
    o.resume = true;
    return run<Optimizer, Scheme>(o, out);
  }
  // Runs one epoch, as an earlier run that later calls meet; returns its
  // checkpoint and metrics file as they are then.
  std::pair<std::string, std::string> earlier_run() {
    o.epochs = 1;
    run(o);
    return {fixtures::file_text(o.checkpoint_dir / "last.ckpt"), fixtures::file_text(o.metrics_file)};
  }
  std::string log_text() {
    std::fflush(log);
    std::rewind(log);
    std::string s;
    for (int c; (c = std::fgetc(log)) != EOF;) s += char(c);
    return s;
  }
  static inline int counter = 0;
};

// A small 4-bit network and 40 test images, which the test-time view tests
// evaluate, and the same images as one batch for their by-hand forwards.
struct view_check {
  small_net<paper_4bit> net;
  data::dataset test_set = fixtures::colour_dataset(40, 4);
  data::batch all;
  context ctx{.phase = mode::eval};
  view_check() {
    std::mt19937_64 rng(3);
    net.init(rng);
    data::batch_loader loader(test_set, {.batch_size = 40, .shuffle = false, .augment = false});
    loader.start_epoch(0);
    REQUIRE(loader.next(all));
  }
};

}  // namespace

TEST_CASE("training learns, and a resumed run equals an uninterrupted one with the same metrics", "[trainer]") {
  trial straight;
  straight.o.checkpoint_dir.clear();
  straight.o.metrics_file = straight.dir / "straight.jsonl";
  small_net<paper_4bit> a;
  const auto history = straight.run(straight.o, &a);
  REQUIRE(history.size() == 4);
  CHECK(history.back().test_accuracy > 0.8);
  CHECK(history.back().weight_levels.size() == 2);

  trial parts;
  small_net<paper_4bit> b;
  const auto rest = parts.run_resumed(2, &b);
  REQUIRE(rest.size() == 2);
  CHECK(rest.front().epoch == 3);
  CHECK(fixtures::all_values(a) == fixtures::all_values(b));
  CHECK_THAT(parts.log_text(), Catch::Contains("resuming with changed settings:\n  epochs: 2 in the checkpoint, 4 now"));

  const auto csv = fixtures::lines(fixtures::file_text(parts.o.metrics_file));
  REQUIRE(csv.size() == 5);  // header and four epochs, none twice
  CHECK(csv[0].rfind("epoch,learning_rate,train_loss", 0) == 0);
  for (std::size_t e = 1; e <= 4; ++e) CHECK(csv[e].rfind(std::to_string(e) + ",", 0) == 0);
  const auto json = fixtures::lines(fixtures::file_text(straight.o.metrics_file));
  REQUIRE(json.size() == 4);
  CHECK(json[0].rfind("{\"epoch\":1,", 0) == 0);
  CHECK(json[0].find("\"weight_levels\":[") != std::string::npos);

  // The checkpoint holds the whole history; resuming a finished run does nothing.
  const checkpoint c = checkpoint::read(parts.o.checkpoint_dir / "last.ckpt");
  CHECK(c.run().epochs_done == 4);
  CHECK(decode_history(c.run().history, "h").size() == 4);
  CHECK(parts.run(parts.o).empty());
  CHECK_THAT(parts.log_text(), Catch::Contains("the run is complete: 4 of 4 epochs done"));
}

TEST_CASE("stochastic rounding trains, and a resumed run equals an uninterrupted one bit for bit", "[trainer]") {
  using stochastic = with_rounding_t<paper_4bit, stochastic_rounding>;
  trial straight;
  straight.o.checkpoint_dir.clear();
  small_net<stochastic> a;
  const auto history = straight.run<adamw, stochastic>(straight.o, &a);
  CHECK(history.back().test_accuracy > 0.8);

  trial parts;
  small_net<stochastic> b;
  parts.run_resumed<adamw, stochastic>(2, &b);
  CHECK(fixtures::all_values(a) == fixtures::all_values(b));

  // The draws matter: the same run rounding to nearest ends elsewhere.
  trial nearest;
  nearest.o.checkpoint_dir.clear();
  small_net<paper_4bit> c;
  nearest.run(nearest.o, &c);
  CHECK(fixtures::all_values(a) != fixtures::all_values(c));
}

TEST_CASE("one-cycle schedule and label smoothing train, are recorded, and resume exactly", "[trainer]") {
  trial straight;
  straight.o.checkpoint_dir.clear();
  straight.o.metrics_file.clear();
  straight.o.schedule = lr_schedule::one_cycle;
  straight.o.label_smoothing = 0.1f;
  small_net<paper_4bit> a;
  const auto history = straight.run(straight.o, &a);
  REQUIRE(history.size() == 4);
  CHECK(history.back().test_accuracy > 0.8);
  CHECK(history.back().learning_rate < 1e-4);  // the cycle has come down

  trial parts;
  parts.o.schedule = lr_schedule::one_cycle;
  parts.o.label_smoothing = 0.1f;
  parts.run(parts.o);  // 4 epochs: the whole cycle, recorded
  const checkpoint c = checkpoint::read(parts.o.checkpoint_dir / "last.ckpt");
  bool cycle_recorded = false, smoothing_recorded = false;
  for (const auto& [key, value] : c.run().settings) {
    cycle_recorded = cycle_recorded || (key == "one_cycle_epochs" && value == "4");
    smoothing_recorded = smoothing_recorded || (key == "label_smoothing" && value == "0.1");
  }
  CHECK(cycle_recorded);
  CHECK(smoothing_recorded);
  small_net<paper_4bit> b;
  std::mt19937_64 rng(3);
  b.init(rng);
  adamw opt;
  c.restore(b, opt);
  CHECK(fixtures::all_values(a) == fixtures::all_values(b));

  // The cycle spans the run, so another length is another recipe.
  train_options longer = parts.o;
  longer.resume = true;
  longer.epochs = 6;
  CHECK_THROWS_WITH(parts.run(longer), Catch::Contains("one_cycle_epochs: 4 in the checkpoint, 6 now"));
}

namespace {
// SGD as the airbench recipe sets it, with a smaller rate factor.
struct airbench_like_sgd : sgd {
  airbench_like_sgd() {
    momentum = 0.85f;
    nesterov = true;
    norm_rate_factor = 8.0f;
  }
};
}  // namespace

TEST_CASE("triangle schedule, lookahead, reflected crops and a norm rate factor train, are recorded, and resume exactly",
          "[trainer]") {
  auto airbench_like = [](train_options& o) {
    o.epochs = 6;  // lookahead from the fourth epoch: every 5 of the 36 steps from step 19
    o.schedule = lr_schedule::triangle;
    o.lookahead = true;
    o.augment = {.pad = 2, .flip = true, .alternate_flip = true, .reflect = true};
    o.learning_rate = 0.05;
  };
  trial straight;
  airbench_like(straight.o);
  small_net<paper_4bit> a;
  const auto history = straight.run<airbench_like_sgd>(straight.o, &a);
  REQUIRE(history.size() == 6);
  CHECK(history.back().test_accuracy > 0.8);
  CHECK(history.back().learning_rate == Approx(0.05 * (0.07 + 0.93 * (1.0 / 36) / 0.77)).epsilon(1e-3));
  const checkpoint c = checkpoint::read(straight.o.checkpoint_dir / "last.ckpt");
  std::set<std::string> recorded;
  for (const auto& [key, value] : c.run().settings) recorded.insert(key + "=" + value);
  CHECK(recorded.count("schedule=triangle"));
  CHECK(recorded.count("lookahead=from epoch 4, every 5 steps"));
  CHECK(recorded.count("augmentation=pad 2 reflected, flip alternating"));
  CHECK(recorded.count("optimizer norm_rate_factor=8"));

  CHECK(recorded.count("triangle_epochs=6"));
  CHECK(recorded.count("lookahead_epochs=6"));

  // Stopped inside the lookahead epochs (--stop-after keeps the 6-epoch
  // schedule), then resumed by a fresh network, as a new process would.
  trial parts;
  airbench_like(parts.o);
  parts.o.stop_after = 4;
  CHECK(parts.run<airbench_like_sgd>(parts.o).size() == 4);
  CHECK_THAT(parts.log_text(), Catch::Contains("stopped after 4 epochs of this call (train_options::stop_after): 4 of 6 done"));
  parts.o.stop_after = 0;
  parts.o.resume = true;
  small_net<paper_4bit> b;
  CHECK(parts.run<airbench_like_sgd>(parts.o, &b).size() == 2);
  CHECK(fixtures::all_values(a) == fixtures::all_values(b));
}

TEST_CASE("a weight average is tested beside the weights, checkpointed, and resumes exactly", "[trainer]") {
  trial straight;
  straight.o.checkpoint_dir.clear();
  straight.o.metrics_file = straight.dir / "straight.jsonl";
  straight.o.weight_average = 0.9f;
  small_net<paper_4bit> a;
  const auto history = straight.run(straight.o, &a);
  REQUIRE(history.size() == 4);
  for (const auto& m : history) CHECK(m.averaged);
  CHECK(history.back().average_test_accuracy > 0.8);  // the average of a learning run learns too
  // The average is another network: its test loss differs from the weights'.
  CHECK(history.back().average_test_loss != history.back().test_loss);
  CHECK_THAT(straight.log_text(), Catch::Contains("weight average (decay 0.9): test loss"));
  const auto json = fixtures::lines(fixtures::file_text(straight.o.metrics_file));
  CHECK(json[0].find("\"average_test_accuracy\":") != std::string::npos);

  // Refreshing the average's batch-norm statistics (by default) changes its
  // figures, and nothing of the training itself.
  trial unrefreshed;
  unrefreshed.o.checkpoint_dir.clear();
  unrefreshed.o.metrics_file.clear();
  unrefreshed.o.weight_average = 0.9f;
  unrefreshed.o.average_refresh_batches = 0;
  small_net<paper_4bit> u;
  const auto plain = unrefreshed.run(unrefreshed.o, &u);
  REQUIRE(plain.size() == 4);
  CHECK(fixtures::all_values(u) == fixtures::all_values(a));
  CHECK(plain.back().test_loss == history.back().test_loss);
  CHECK(plain.back().average_test_loss != history.back().average_test_loss);

  trial parts;
  parts.o.weight_average = 0.9f;
  small_net<paper_4bit> b;
  const auto rest = parts.run_resumed(2, &b);
  REQUIRE(rest.size() == 2);
  CHECK(fixtures::all_values(a) == fixtures::all_values(b));
  CHECK(rest.back().average_test_loss == history.back().average_test_loss);  // the average resumed too
  CHECK(rest.back().average_test_accuracy == history.back().average_test_accuracy);
  const auto csv = fixtures::lines(fixtures::file_text(parts.o.metrics_file));
  CHECK(csv[0].ends_with(",weight_levels,average_test_loss,average_test_accuracy"));
  REQUIRE(csv.size() == 5);
  CHECK(csv[4].ends_with(fmt::format(",{:.6f},{:.4f}", history.back().average_test_loss,
                                     history.back().average_test_accuracy)));

  // The checkpoint holds the average; its history reads back with the figures.
  const checkpoint c = checkpoint::read(parts.o.checkpoint_dir / "last.ckpt");
  CHECK_FALSE(c.run().weight_average.empty());
  const auto decoded = decode_history(c.run().history, "h");
  CHECK(decoded.back().averaged);
  CHECK(decoded.back().average_test_accuracy == history.back().average_test_accuracy);

  // Another decay is another run.
  train_options other = parts.o;
  other.epochs = 5;
  other.weight_average = 0.99f;
  CHECK_THROWS_WITH(parts.run(other), Catch::Contains("weight_average: 0.9 in the checkpoint, 0.99 now"));
}

TEST_CASE("evaluate with flip averages the logits of each image and its mirror image", "[trainer]") {
  view_check v;
  const evaluation plain = evaluate(v.net, v.test_set, {.batch_size = 16});
  const evaluation flipped = evaluate(v.net, v.test_set, {.batch_size = 16, .flip = true});
  const double plain_loss = plain.loss, flip_loss = flipped.loss;
  // The flipped pass also reports the images as they are, for comparison.
  CHECK(plain.plain_accuracy == plain.accuracy);
  CHECK(flipped.plain_accuracy == plain.accuracy);
  // By hand: one batch of all 40 images, both ways.
  activation logits = v.net.forward(v.all.images, v.ctx), mirrored, grad;
  data::mirror_images(v.all.images, mirrored);
  CHECK(softmax_cross_entropy(logits, v.all.labels, grad).correct == std::size_t(std::lround(plain.accuracy * 40)));
  logits = (logits + v.net.forward(mirrored, v.ctx)) * 0.5f;
  const auto expected = softmax_cross_entropy(logits, v.all.labels, grad);
  CHECK(flip_loss == Approx(expected.loss).epsilon(1e-5));
  CHECK(expected.correct == std::size_t(std::lround(flipped.accuracy * 40)));
  CHECK(flip_loss != Approx(plain_loss).epsilon(1e-6));  // the mirror images do change the logits
}

TEST_CASE("an earlier run's checkpoint and metrics are never replaced without resume or overwrite", "[trainer]") {
  trial t;
  const auto [checkpoint_before, metrics_before] = t.earlier_run();
  const fs::path ckpt = t.o.checkpoint_dir / "last.ckpt";
  CHECK_THROWS_AS(t.run(t.o), earlier_run_exists);
  CHECK_THROWS_WITH(t.run(t.o), Catch::Contains("already holds a run after epoch 1 of 1") &&
                                    Catch::Contains("(train_options::resume)") &&
                                    Catch::Contains("(train_options::overwrite)"));
  // A program names the options as its users know them.
  train_options named = t.o;
  named.names.resume = "--resume";
  named.names.overwrite = "--overwrite";
  CHECK_THROWS_WITH(t.run(named), Catch::Contains("Resume it (--resume), discard it and start again (--overwrite)"));
  CHECK(fixtures::file_text(ckpt) == checkpoint_before);
  CHECK(fixtures::file_text(t.o.metrics_file) == metrics_before);

  // The metrics file alone is protected too.
  train_options metrics_only = t.o;
  metrics_only.checkpoint_dir = t.dir / "elsewhere";
  CHECK_THROWS_WITH(t.run(metrics_only), Catch::Contains("metrics file") && Catch::Contains("already holds"));
  CHECK(fixtures::file_text(t.o.metrics_file) == metrics_before);

  // overwrite starts again and says what it discarded.
  train_options again = t.o;
  again.overwrite = true;
  again.seed = 6;
  REQUIRE(t.run(again).size() == 1);
  CHECK(fixtures::file_text(ckpt) != checkpoint_before);
  CHECK_THAT(t.log_text(), Catch::Contains("overwrite: discarded"));
}

TEST_CASE("a resume with other settings is refused, naming each change, unless allowed", "[trainer]") {
  trial t;
  const std::string checkpoint_before = t.earlier_run().first;
  train_options r = t.o;
  r.resume = true;
  r.epochs = 2;
  r.batch_size = 32;
  r.seed = 9;
  r.learning_rate = 0.5;
  CHECK_THROWS_AS(t.run(r), settings_changed);
  CHECK_THROWS_WITH(t.run(r), Catch::Contains("batch_size: 16 in the checkpoint, 32 now") &&
                                  Catch::Contains("seed: 5 in the checkpoint, 9 now") &&
                                  Catch::Contains("learning_rate: 0.01 in the checkpoint, 0.5 now") &&
                                  Catch::Contains("set train_options::allow_changed_settings"));
  CHECK(fixtures::file_text(t.o.checkpoint_dir / "last.ckpt") == checkpoint_before);

  // Another optimizer: its settings differ, and its state cannot be carried over even when allowed.
  train_options s = t.o;
  s.resume = true;
  CHECK_THROWS_WITH(t.run<sgd>(s), Catch::Contains("optimizer: adamw in the checkpoint, sgd now"));
  s.allow_changed_settings = true;
  CHECK_THROWS_WITH(t.run<sgd>(s), Catch::Contains("state of the adamw optimizer"));

  // Other training data.
  trial other_data;
  other_data.o = t.o;
  other_data.o.resume = true;
  other_data.train_set = fixtures::colour_dataset(96, 7);
  CHECK_THROWS_WITH(other_data.run(other_data.o), Catch::Contains("training_data_crc32"));

  r.allow_changed_settings = true;
  CHECK(t.run(r).size() == 1);
  CHECK_THAT(t.log_text(), Catch::Contains("resuming with changed settings (train_options::allow_changed_settings):") &&
                               Catch::Contains("batch_size: 16 in the checkpoint, 32 now"));
}

TEST_CASE("a diverging run stops at once, naming the epoch and batch, with the last checkpoint intact", "[trainer]") {
  trial t;
  const auto [checkpoint_before, metrics_before] = t.earlier_run();
  const fs::path ckpt = t.o.checkpoint_dir / "last.ckpt";
  train_options huge = t.o;
  huge.resume = true;
  huge.allow_changed_settings = true;
  huge.epochs = 3;
  huge.learning_rate = 1e30;
  huge.grad_clip = 0;
  std::string message;
  try {
    t.run(huge);
  } catch (const training_diverged& e) {
    message = e.what();
  }
  CHECK_THAT(message, Catch::Contains("training diverged in epoch 2") &&
                          Catch::Contains("after epoch 1) is unchanged") && Catch::Contains("lower learning rate"));
  CHECK(fixtures::file_text(ckpt) == checkpoint_before);
  CHECK(fixtures::file_text(t.o.metrics_file) == metrics_before);
  CHECK(fixtures::file_text(t.o.metrics_file).find("nan") == std::string::npos);
}

TEST_CASE("a non-finite loss leaves the weights and optimizer untouched", "[trainer]") {
  small_net<paper_4bit> net;
  std::mt19937_64 rng(3);
  net.init(rng);
  net.layer<5>().bias.value(0) = std::numeric_limits<float>::infinity();  // logits become inf - inf
  auto parameters = [&] {
    std::vector<float> v;
    net.visit_parameters([&](parameter& p) { v.insert(v.end(), p.value.begin(), p.value.end()); });
    return v;
  };
  const auto before = parameters();
  adamw opt;
  context ctx;
  activation x = xt::ones<float>({4ul, 3ul, 32ul, 32ul}), grad;
  const std::vector<std::int32_t> labels = {0, 1, 0, 1};
  const step_result r = train_step(net, opt, x, labels, 1e-3f, 0.5, grad, ctx);
  CHECK_FALSE(r.applied);
  CHECK_FALSE(std::isfinite(r.loss));
  CHECK(opt.steps == 0);
  const auto after = parameters();  // (batch-norm statistics have seen the forward pass)
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i)
    if (std::isfinite(before[i])) CHECK(after[i] == before[i]);
}

TEST_CASE("settings that cannot work are refused before any work", "[trainer]") {
  trial t;
  auto refused = [&](auto change, const std::string& words) {
    train_options o = t.o;
    change(o);
    CHECK_THROWS_WITH(t.run(o), Catch::Contains(words));
  };
  refused([](train_options& o) { o.learning_rate = std::nan(""); }, "learning rate must be a finite number above 0 (got nan)");
  refused([](train_options& o) { o.learning_rate = -1; }, "learning rate must be a finite number above 0 (got -1)");
  refused([](train_options& o) { o.batch_size = 100000; }, "batch size 100000 is larger than the training set (96 images)");
  refused([](train_options& o) { o.epochs = 0; }, "epochs must be at least 1");
  refused([](train_options& o) { o.t_max = std::numeric_limits<double>::infinity(); }, "(t_max)");
  refused([](train_options& o) { o.grad_clip = -0.5; }, "gradient clip");
  refused([](train_options& o) { o.resume = o.overwrite = true; }, "contradict");
  refused([](train_options& o) { o.label_smoothing = 1.0f; }, "label smoothing must lie in [0, 1)");
  refused([](train_options& o) { o.weight_average = 1.0f; }, "the weight average's decay must lie in [0, 1)");
  refused([](train_options& o) { o.one_cycle_rise = 0; }, "one-cycle rise");
  refused([](train_options& o) { o.metrics_file = "m.txt"; }, ".csv");
  t.train_set.classes = 3;
  refused([](train_options&) {}, "the data has 3 classes but the network has 2 outputs");
  t.train_set.classes = 2;
  t.train_set.shape = {3, 16, 64};  // as many bytes per image, another shape
  refused([](train_options&) {}, "the network takes 3x32x32 images, but the training set holds 3x16x64 images");
  t.train_set.shape = data::cifar_image;
  t.test_set.norm.mean[1] = 0.5f;
  refused([](train_options&) {}, "the test set with mean (0.4914, 0.5, 0.4465)");
  t.test_set.norm = {};
  refused([](train_options&) {}, "the test set has no normalisation");
  t.test_set.norm = t.train_set.norm;
  t.test_set.labels[5] = 2;
  refused([](train_options&) {}, "the test set has label 2 at image 5, outside 0..1");
  CHECK_FALSE(fs::exists(t.o.checkpoint_dir / "last.ckpt"));
}

TEST_CASE("unusable output paths are found before the first epoch", "[trainer]") {
  trial t;
  fixtures::write_text(t.dir / "a_file", "x");
  train_options o = t.o;
  o.checkpoint_dir = t.dir / "a_file";
  CHECK_THROWS_WITH(t.run(o), Catch::Contains("cannot use checkpoint folder") && Catch::Contains("a_file"));
  o = t.o;
  o.checkpoint_dir = t.dir / "a_file" / "below";
  CHECK_THROWS_WITH(t.run(o), Catch::Contains("cannot use checkpoint folder") && Catch::Contains("Not a directory"));
  o = t.o;
  o.metrics_file = t.dir / "a_file" / "m.csv";
  CHECK_THROWS_WITH(t.run(o), Catch::Contains("cannot use metrics folder"));
  o = t.o;
  fs::create_directories(t.dir / "folder.csv");
  o.metrics_file = t.dir / "folder.csv";
  CHECK_THROWS_WITH(t.run(o), Catch::Contains("it is a folder"));
  CHECK(t.log_text().find("epoch") == std::string::npos);  // no epoch ran
}

TEST_CASE("a stale temporary file of a crashed write is removed", "[trainer]") {
  trial t;
  t.o.epochs = 1;
  fs::create_directories(t.o.checkpoint_dir);
  fixtures::write_text(io::temporary_path(t.o.checkpoint_dir / "last.ckpt"), "half a checkpoint");
  t.run(t.o);
  CHECK_FALSE(fs::exists(io::temporary_path(t.o.checkpoint_dir / "last.ckpt")));
  CHECK_FALSE(fs::exists(io::temporary_path(t.o.metrics_file)));
}

TEST_CASE("metrics files: JSON holds null for a non-finite figure; CSV and JSON need their extension", "[trainer]") {
  epoch_metrics m;
  m.epoch = 1;
  m.train_loss = std::nan("");
  m.test_loss = std::numeric_limits<double>::infinity();
  const std::string json = format_metrics({m}, metrics_format::json_lines);
  CHECK_THAT(json, Catch::Contains("\"train_loss\":null") && Catch::Contains("\"test_loss\":null"));
  CHECK(json.find("nan") == std::string::npos);
  CHECK(json.find("inf") == std::string::npos);
  CHECK_THROWS_WITH(metrics_format_of("m.txt"), Catch::Contains(".csv"));
  CHECK(metrics_format_of("m.json") == metrics_format::json_lines);
}

TEST_CASE("the progress bar shows the time left in the whole run", "[trainer]") {
  std::FILE* out = std::tmpfile();
  progress_bar bar("epoch 1/10", 4, true, out);
  bar.set_run_remaining(9, 100.0);
  bar.update(4, 64, "");
  std::fflush(out);
  std::rewind(out);
  char text[256] = {};
  CHECK(std::fread(text, 1, sizeof text - 1, out) > 0);
  CHECK_THAT(std::string(text), Catch::Contains("0:00 left (run: 15:00)"));  // 9 epochs of 100 s
  std::fclose(out);
}

TEST_CASE("train takes float datasets of any shape and records what differs from CIFAR's", "[trainer]") {
  trial t;
  auto as_float = [](const data::dataset& d) {
    data::float_dataset f;
    f.shape = d.shape;
    f.classes = d.classes;
    f.labels = d.labels;
    f.norm = d.norm;
    for (std::uint8_t v : d.pixels) f.pixels.push_back(float(v) / 255.0f);
    return f;
  };
  const data::float_dataset train_set = as_float(t.train_set), test_set = as_float(t.test_set);
  small_net<paper_4bit> net, from_bytes;
  std::mt19937_64 rng(3);
  net.init(rng);
  adamw opt;
  train_options o = t.o;
  o.augment = {2, false};
  const auto history = train(net, opt, train_set, test_set, o, t.log);
  CHECK(history.back().test_accuracy > 0.8);
  const checkpoint c = checkpoint::read(o.checkpoint_dir / "last.ckpt");
  bool samples = false, augmentation = false;
  for (const auto& [key, value] : c.run().settings) {
    samples = samples || (key == "samples" && value == "float");
    augmentation = augmentation || (key == "augmentation" && value == "pad 2, flip no");
  }
  CHECK(samples);
  CHECK(augmentation);
}

TEST_CASE("run settings name cutout and alternating flips only when used, so older checkpoints still resume", "[trainer]") {
  data::dataset d;
  d.shape = data::cifar_image;
  d.classes = 10;
  d.norm = data::cifar_normalisation();
  d.labels = {0, 1};
  d.pixels.assign(2 * data::cifar_image_bytes, 7);
  const auto augmentation_of = [&](const train_options& o) -> std::string {
    for (const auto& [key, value] : run_settings(o, adamw{}, d, 1))
      if (key == "augmentation") return value;
    return "(not recorded)";
  };
  train_options o;
  CHECK(augmentation_of(o) == "(not recorded)");  // the pad-4 crop and flip every older run used
  o.augment.cutout = 8;
  CHECK(augmentation_of(o) == "pad 4, flip yes, cutout 8");
  o.augment.alternate_flip = true;
  CHECK(augmentation_of(o) == "pad 4, flip alternating, cutout 8");
  o.augment = {2, false};
  CHECK(augmentation_of(o) == "pad 2, flip no");
}

TEST_CASE("evaluate with shift and flip averages the logits of six views of each image", "[trainer]") {
  view_check v;
  const evaluation plain = evaluate(v.net, v.test_set, {.batch_size = 16});
  const evaluation views = evaluate(v.net, v.test_set, {.batch_size = 16, .flip = true, .shift = 2});
  const evaluation shifted = evaluate(v.net, v.test_set, {.batch_size = 16, .shift = 2});
  CHECK(views.plain_accuracy == plain.accuracy);
  CHECK(shifted.plain_accuracy == plain.accuracy);
  // By hand: the image, moved by (2, 2) and (-2, -2), each also mirrored.
  activation sum = xt::zeros<float>({40ul, 2ul, 1ul, 1ul}), unmirrored = sum, view, mirrored, grad;
  for (const int d : {0, 2, -2}) {
    data::shift_images(v.all.images, d, d, view);
    const activation logits = v.net.forward(view, v.ctx);
    unmirrored += logits;
    sum += logits;
    data::mirror_images(view, mirrored);
    sum += v.net.forward(mirrored, v.ctx);
  }
  const auto six = softmax_cross_entropy(activation(sum / 6.0f), v.all.labels, grad);
  CHECK(views.loss == Approx(six.loss).epsilon(1e-5));
  CHECK(six.correct == std::size_t(std::lround(views.accuracy * 40)));
  const auto three = softmax_cross_entropy(activation(unmirrored / 3.0f), v.all.labels, grad);
  CHECK(shifted.loss == Approx(three.loss).epsilon(1e-5));
  CHECK(shifted.loss != Approx(plain.loss).epsilon(1e-6));  // the shifted views do change the logits
  CHECK_THROWS_WITH(evaluate(v.net, v.test_set, {.shift = -1}), Catch::Contains("shift must be 0 or more pixels"));
}
