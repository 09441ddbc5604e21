// The trainer program under injected faults: killed at random moments
// (inside checkpoint writes too), a full disk, read-only folders, and the
// command-line mistakes a user makes. Each child is the real train_cifar10
// on a small CIFAR-10 folder this test writes (or train_cifar100, on a
// CIFAR-100 folder, or cifar_model on what train_cifar10 wrote).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "../training_fixtures.hpp"
#include "child_process.hpp"
#include "trainer_runs.hpp"
#include "nibble/io/checkpoint.hpp"
#include "nibble/io/model_file.hpp"
#include "nibble/net/simple_resnet4bit.hpp"
#include "nibble/quant/presets.hpp"
#include "nibble/train/metrics.hpp"
#include "nibble/train/optimizer.hpp"

using namespace nibble;
namespace fs = std::filesystem;

namespace {

using namespace fault;
using trained_net = simple_resnet4bit<10, paper_4bit>;  // what --model resnet --bits 4 trains
constexpr int epochs = 6;

std::string section(const checkpoint& c, const char* tag) {
  const auto b = c.section_bytes(tag);
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

bool temporary_files_in(const fs::path& folder) {
  for (const auto& e : fs::directory_iterator(folder))
    if (e.path().extension() == ".tmp") return true;
  return false;
}

}  // namespace

TEST_CASE("a run killed at random moments, inside checkpoint writes too, resumes to the bytes of an uninterrupted one",
          "[fault]") {
  trainer_runs t;
  // The uninterrupted run, and the state after each epoch (by stopping and
  // resuming, which must give the same final bytes).
  const fs::path whole = t.root / "whole", steps = t.root / "steps";
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(t.run(t.args(whole, epochs)).exit_code == 0);
  const auto run_time = std::chrono::steady_clock::now() - started;
  const checkpoint reference = checkpoint::read(whole / "last.ckpt");
  const std::vector<std::string> reference_rows = metrics_rows(whole / "metrics.csv");
  REQUIRE(reference_rows.size() == epochs);
  std::vector<std::string> tensors_after(epochs + 1), optimizer_after(epochs + 1);
  for (int e = 1; e <= epochs; ++e) {
    const auto r = t.run(t.args(steps, e, {"--resume"}));
    REQUIRE(r.exit_code == 0);
    const checkpoint c = checkpoint::read(steps / "last.ckpt");
    tensors_after[std::size_t(e)] = section(c, "TENS");
    optimizer_after[std::size_t(e)] = section(c, "OPTM");
  }
  CHECK(tensors_after[epochs] == section(reference, "TENS"));
  CHECK(optimizer_after[epochs] == section(reference, "OPTM"));
  const auto checkpoint_bytes = fs::file_size(whole / "last.ckpt");

  // Kill a run again and again: at a random time, or (every third time) the
  // moment a write passes a random size, which lands inside the checkpoint
  // write. After every kill the invariants must hold; a run that finishes
  // must equal the uninterrupted one, and then a new run starts.
  // NIBBLE_FAULT_KILLS sets the number of kills (fewer for a quick run, or
  // for a build whose runs are slower).
  const int wanted = std::getenv("NIBBLE_FAULT_KILLS") ? std::max(3, std::atoi(std::getenv("NIBBLE_FAULT_KILLS"))) : 40;
  const int wanted_in_writes = std::max(2, wanted / 5);
  const fs::path run = t.root / "killed";
  std::mt19937_64 rng(2024);
  int kills = 0, kills_in_writes = 0, finished = 0;
  for (int attempt = 1; kills < wanted || kills_in_writes < wanted_in_writes || finished < 2; ++attempt) {
    REQUIRE(attempt < 10 * wanted);
    fault::child_options o;
    const bool in_write = attempt % 3 == 0;
    if (in_write)
      o.file_size_limit = 1 + rng() % (checkpoint_bytes - 1);
    else
      o.kill_after = std::chrono::duration_cast<std::chrono::microseconds>(run_time * double(rng() % 1000) / 1000.0);
    if (kills >= wanted && kills_in_writes >= wanted_in_writes) o = {};  // enough faults: let it finish
    const auto r = t.run(t.args(run, epochs, {"--resume"}), o);
    INFO("attempt " << attempt << (in_write ? " (file size limit)" : " (timed kill)") << ", output:\n" << r.output);
    if (r.exited) {
      REQUIRE(r.exit_code == 0);
    } else {
      ++kills;
      if (r.signal == SIGXFSZ) ++kills_in_writes;
    }

    // A loadable checkpoint equal to the reference after its epoch, and a
    // metrics file that lists exactly its epochs (or one fewer, between the
    // two writes), each once and as the reference has them.
    std::size_t done = 0;
    if (fs::exists(run / "last.ckpt")) {
      const checkpoint c = checkpoint::read(run / "last.ckpt");
      trained_net net;
      adamw opt;
      c.restore(net, opt);
      done = std::size_t(c.run().epochs_done);
      REQUIRE(done >= 1);
      REQUIRE(done <= std::size_t(epochs));
      CHECK((section(c, "TENS") == tensors_after[done]));
      CHECK((section(c, "OPTM") == optimizer_after[done]));
      CHECK(decode_history(c.run().history, "history").size() == done);
    }
    const auto rows = fs::exists(run / "metrics.csv") ? metrics_rows(run / "metrics.csv") : std::vector<std::string>{};
    CHECK((rows.size() == done || rows.size() + 1 == done));
    for (std::size_t i = 0; i < rows.size(); ++i) CHECK(rows[i] == reference_rows[i]);

    if (r.exited) {
      CHECK(done == std::size_t(epochs));
      CHECK(rows == reference_rows);
      CHECK_FALSE(temporary_files_in(run));
      ++finished;
      fs::remove_all(run);
    }
  }
}

TEST_CASE("a full disk stops the run with the system's reason, no temporary file, and the last checkpoint intact",
          "[fault]") {
  trainer_runs t;
  const fs::path run = t.root / "run";
  REQUIRE(t.run(t.args(run, 1)).exit_code == 0);
  const std::string checkpoint_before = fixtures::file_text(run / "last.ckpt");
  const std::string metrics_before = fixtures::file_text(run / "metrics.csv");
  fault::child_options full;
  full.file_size_limit = 64 * 1024;  // room for the metrics file, not for a checkpoint
  full.ignore_file_size_signal = true;
  const auto r = t.run(t.args(run, 2, {"--resume"}), full);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("cannot write checkpoint") && Catch::Contains("File too large") &&
                           Catch::Contains("last.ckpt"));
  CHECK_FALSE(temporary_files_in(run));
  CHECK(fixtures::file_text(run / "last.ckpt") == checkpoint_before);
  CHECK(fixtures::file_text(run / "metrics.csv") == metrics_before);
  // And the run goes on when there is room again.
  CHECK(t.run(t.args(run, 2, {"--resume"})).exit_code == 0);
}

TEST_CASE("read-only output folders are reported before the first epoch", "[fault]") {
  trainer_runs t;
  const fs::path locked = t.root / "locked";
  fs::create_directories(locked);
  ::chmod(locked.c_str(), 0555);
  fault::child_options nobody;
  nobody.unprivileged = true;
  auto r = t.run(t.args(locked / "run", 1), nobody);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("Permission denied") && Catch::Contains("locked"));
  CHECK(r.output.find("epoch 1/") == std::string::npos);

  const fs::path open_run = t.root / "open";
  fs::create_directories(open_run);
  ::chmod(open_run.c_str(), 0777);
  r = t.run(t.args(open_run, 1, {"--metrics", (locked / "metrics.csv").string()}), nobody);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("cannot use metrics folder") && Catch::Contains("Permission denied"));
  CHECK(r.output.find("epoch 1/") == std::string::npos);
}

TEST_CASE("the trainer program refuses mistakes with short messages and a non-zero exit", "[fault]") {
  trainer_runs t;
  const fs::path run = t.root / "run";
  auto r = t.run(t.args(run, 1, {"--lr", "nan"}));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Catch::Contains("--lr: must be a finite number above 0, got nan"));
  r = t.run(t.args(run, 1, {"--weight-decay", "-1"}));
  CHECK(r.exit_code != 0);
  CHECK(r.output.size() < 200);  // no 309-digit range
  r = t.run(t.args(run, 1, {"--cutout", "33"}));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Catch::Contains("--cutout"));
  r = t.run(t.args(run, 1, {"--batch-size", "1000"}));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("batch size 1000 is larger than the training set (80 images)"));
  r = t.run(t.args(run, 1, {"--threads", "1000"}));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("warning: --threads 1000 is more than the") && Catch::Contains("threads: "));

  // The run above finished; the same command again must not replace it.
  const std::string checkpoint_before = fixtures::file_text(run / "last.ckpt");
  r = t.run(t.args(run, 1));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("already holds a run after epoch 1 of 1"));
  CHECK(fixtures::file_text(run / "last.ckpt") == checkpoint_before);
  r = t.run(t.args(run, 2, {"--resume", "--batch-size", "8"}));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("batch_size: 16 in the checkpoint, 8 now"));
  r = t.run(t.args(run, 2, {"--resume", "--optimizer", "sgd", "--allow-changed-settings"}));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("state of the adamw optimizer"));
  r = t.run(t.args(run, 1, {"--resume", "--bits", "8"}));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("checkpoint: SimpleResNet4bit, 10 classes, 4-bit weights") &&
                           Catch::Contains("program:    SimpleResNet4bit, 10 classes, 8-bit weights"));
  CHECK(r.output.size() < 1500);
  CHECK(fixtures::file_text(run / "last.ckpt") == checkpoint_before);

  // Divergence: a non-zero exit naming the epoch and batch; the checkpoint stays.
  r = t.run(t.args(run, 3, {"--resume", "--lr", "1e30", "--grad-clip", "0", "--allow-changed-settings"}));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("training diverged in epoch 2") && Catch::Contains("batch"));
  CHECK(fixtures::file_text(run / "last.ckpt") == checkpoint_before);
  CHECK(fixtures::file_text(run / "metrics.csv").find("nan") == std::string::npos);

  r = t.run(t.args(run, 1, {"--overwrite"}));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("overwrite: discarded"));
}

TEST_CASE("the trainer's --scheme trains the named scheme and refuses combinations it does not build", "[fault]") {
  trainer_runs t;
  const fs::path run = t.root / "run";
  auto r = t.succeeds(t.args(run, 1, {"--model", "vgg", "--scheme", "lsq", "--activations", "4", "--max-batches", "1"}));
  CHECK_THAT(r.output, Catch::Contains("network: VGG4bit") && Catch::Contains("scheme: 4-bit, learned step") &&
                           Catch::Contains("4-bit activations (LSQ step)"));
  const checkpoint saved = checkpoint::read(run / "last.ckpt");
  CHECK_THAT(saved.network(), Catch::Contains("4-bit activations (LSQ step)"));
  CHECK(metrics_rows(run / "metrics.csv").size() == 1);

  t.refused(t.args(t.root / "other", 1, {"--model", "vgg", "--scheme", "lsq", "--bits", "8"}),
            "--scheme lsq with --bits 8 --activations 32 is not built for --model vgg (10 classes); it takes "
            "--bits 4 --activations 32; --bits 4 --activations 4");
  // The default command trains the resnet.
  t.refused(t.args(t.root / "other", 1, {"--scheme", "pot"}), "--scheme pot is not built for --model resnet (10 classes); it has --scheme paper");
  t.refused(t.args(t.root / "other", 1, {"--model", "vgg", "--scheme", "percentile", "--activations", "4"}),
            "--scheme percentile with --bits 4 --activations 4 is not built for --model vgg");
  t.refused(t.args(t.root / "other", 1, {"--bits", "8", "--activations", "4"}), "--scheme paper with --bits 8 --activations 4 is not built for --model resnet");
  r = t.run(t.args(t.root / "other", 1, {"--model", "vgg", "--scheme", "shift"}));
  CHECK(r.exit_code != 0);
  CHECK(!fs::exists(t.root / "other"));
}

TEST_CASE("the trainer's --model fast-vgg trains FastVGG, with float activations only, which cifar_model deploys",
          "[fault]") {
  trainer_runs t;
  const fs::path run = t.root / "run";
  auto r = t.succeeds(t.args(run, 1, {"--model", "fast-vgg", "--bits", "8", "--arithmetic", "bf16", "--max-batches", "2"}));
  CHECK_THAT(r.output, Catch::Contains("network: FastVGG, 10 classes, 8-bit weights") &&
                           Catch::Contains("1,979,210 parameters"));
  CHECK_THAT(checkpoint::read(run / "last.ckpt").network(), Catch::Contains("max_pool2d 4x4"));
  CHECK(metrics_rows(run / "metrics.csv").size() == 1);
  // cifar_model exports it, with a C header, and tests the deployed network against the checkpoint.
  const std::string ckpt = (run / "last.ckpt").string(), model = (t.root / "fast.nibble").string();
  r = t.succeeds({NIBBLE_MODEL_TOOL, "export", "--checkpoint", ckpt, "--output", model, "--c-header",
                  (t.root / "fast.h").string()});
  CHECK_THAT(r.output, Catch::Contains("fast.nibble: FastVGG") && Catch::Contains("C99 header"));
  r = t.succeeds({NIBBLE_MODEL_TOOL, "evaluate", model, "--data", t.data.string(), "--checkpoint", ckpt});
  CHECK_THAT(r.output, Catch::Contains("of 32 images)") && Catch::Contains("same top-1 on "));
  t.refused(t.args(t.root / "other", 1, {"--model", "fast-vgg", "--activations", "8"}),
            "--scheme paper with --bits 4 --activations 8 is not built for --model fast-vgg");
  t.refused(t.args(t.root / "other", 1, {"--model", "fast-vgg", "--scheme", "lsq"}),
            "--scheme lsq is not built for --model fast-vgg");
  CHECK(!fs::exists(t.root / "other"));
}

TEST_CASE("the trainer's --recipe fast sets its flags, yields to flags given, and prints them", "[fault]") {
  trainer_runs t;
  const fs::path run = t.root / "run";
  // The test's own --epochs and --batch-size are given, so they win.
  auto r = t.succeeds(
      t.args(run, 2, {"--recipe", "fast", "--lr", "0.05", "--weight-average", "0.9", "--max-batches", "2", "--pad",
                      "2", "--cutout", "5", "--alternate-flip"}));
  CHECK_THAT(r.output, Catch::Contains("recipe fast: --model resnet (given), --epochs 2 (given), --batch-size 16 "
                                       "(given), --optimizer sgd, "
                                       "--momentum 0.9, --nesterov true, --weight-decay 0.0005, --schedule one-cycle, "
                                       "--lr 0.05 (given)") &&
                           Catch::Contains("--label-smoothing 0.1, --test-flip true") &&
                           Catch::Contains("optimizer sgd"));
  // The flip's and the weight average's figures are shown beside the plain ones.
  CHECK_THAT(r.output, Catch::Contains("test acc without test-time views: ") && Catch::Contains(", weight average ") &&
                           Catch::Contains("weight average (decay 0.9): test loss"));
  const checkpoint saved = checkpoint::read(run / "last.ckpt");
  std::map<std::string, std::string> settings(saved.run().settings.begin(), saved.run().settings.end());
  CHECK(settings["optimizer"] == "sgd");
  CHECK(settings["optimizer nesterov"] == "true");
  CHECK(settings["schedule"] == "one_cycle");
  CHECK(settings["learning_rate"] == "0.05");
  CHECK(settings["grad_clip"] == "0");
  CHECK(settings["label_smoothing"] == "0.1");
  CHECK(settings["weight_average"] == "0.9");
  CHECK(settings["augmentation"] == "pad 2, flip alternating, cutout 5");
  CHECK_FALSE(saved.run().weight_average.empty());
  CHECK_THAT(fixtures::lines(fixtures::file_text(run / "metrics.csv"))[0],
             Catch::EndsWith("average_test_loss,average_test_accuracy"));

  // Without --model, the recipe trains FastVGG.
  r = t.succeeds(t.args_without_model(t.root / "fast-vgg", 1, {"--recipe", "fast", "--max-batches", "1"}));
  CHECK_THAT(r.output, Catch::Contains("recipe fast: --model fast-vgg, --epochs 1 (given)") &&
                           Catch::Contains("network: FastVGG"));

  // The paper recipe is the flags' defaults: nothing is printed or changed.
  r = t.succeeds(t.args(t.root / "paper", 1, {"--recipe", "paper", "--max-batches", "1"}));
  CHECK_THAT(r.output, !Catch::Contains("recipe") && Catch::Contains("optimizer adamw"));
  t.refused(t.args(t.root / "other", 1, {"--recipe", "quick"}), "--recipe");
}

TEST_CASE("the trainer's --recipe airbench trains WhitenedVGG with airbench's settings, and resumes", "[fault]") {
  trainer_runs t;
  const fs::path run = t.root / "run";
  // Two epochs, stopped after the first (--stop-after keeps the two-epoch schedule).
  auto r = t.succeeds(t.args_without_model(run, 2, {"--recipe", "airbench", "--max-batches", "2", "--stop-after", "1"}));
  CHECK_THAT(r.output, Catch::Contains("recipe airbench: --model whitened-vgg, --epochs 2 (given), --batch-size 16 "
                                       "(given), --optimizer sgd, --momentum 0.85, --nesterov true") &&
                           Catch::Contains("--norm-rate-factor 64, --schedule triangle, --lr 1.5") &&
                           Catch::Contains("--pad 2, --reflect-pad true, --alternate-flip true, --lookahead true") &&
                           Catch::Contains("--test-flip true, --test-shift 1") &&
                           Catch::Contains("network: WhitenedVGG") &&
                           Catch::Contains("patch whitening: filters fitted to the first") &&
                           Catch::Contains("stopped after 1 epochs of this call (--stop-after): 1 of 2 done"));
  const checkpoint saved = checkpoint::read(run / "last.ckpt");
  std::map<std::string, std::string> settings(saved.run().settings.begin(), saved.run().settings.end());
  CHECK(settings["schedule"] == "triangle");
  CHECK(settings["optimizer norm_rate_factor"] == "64");
  CHECK(settings["lookahead"] == "from epoch 4, every 5 steps");
  CHECK(settings["augmentation"] == "pad 2 reflected, flip alternating");
  CHECK_THAT(saved.network(), Catch::Contains("patch_whitening 24 filters 2x2") && Catch::Contains("gelu") &&
                                  Catch::Contains("shift_batch_norm") && Catch::Contains("fixed_scale 1/9"));
  CHECK(metrics_rows(run / "metrics.csv").size() == 1);
  // The second epoch resumes the first (the fitted filters come back from the checkpoint).
  r = t.succeeds(t.args_without_model(run, 2, {"--recipe", "airbench", "--max-batches", "2", "--resume"}));
  CHECK_THAT(r.output, Catch::Contains("resumed from") && Catch::Contains("after epoch 1"));
  CHECK(metrics_rows(run / "metrics.csv").size() == 2);
  // cifar_model says it cannot deploy it, and writes nothing.
  const fs::path model = t.root / "whitened.nibble";
  r = t.run({NIBBLE_MODEL_TOOL, "export", "--checkpoint", (run / "last.ckpt").string(), "--output", model.string()});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Catch::Contains("WhitenedVGG has no deployed form yet"));
  CHECK(!fs::exists(model));
  t.refused(t.args(t.root / "other", 1, {"--model", "whitened-vgg", "--activations", "8"}),
            "--scheme paper with --bits 4 --activations 8 is not built for --model whitened-vgg");
  t.refused(t.args(t.root / "other", 1, {"--norm-rate-factor", "64"}), "is an SGD setting");
  CHECK(!fs::exists(t.root / "other"));
}

TEST_CASE("train_cifar100 trains on fine and coarse labels, which cifar_model deploys, and refuses what it does not build",
          "[fault]") {
  trainer_runs t;
  const fs::path data = write_cifar100(t.root / "cifar100");
  auto cifar100 = [&](const fs::path& run, std::vector<std::string> extra) {
    extra.insert(extra.end(), {"--data", data.string()});
    auto a = t.args(run, 1, extra);
    a[0] = NIBBLE_CIFAR100_TRAINER;
    return a;
  };
  auto r = t.succeeds(cifar100(t.root / "fine", {}));
  CHECK_THAT(r.output, Catch::Contains("CIFAR-100 (fine labels)") && Catch::Contains("48 training, 16 test images") &&
                           Catch::Contains("SimpleResNet4bit, 100 classes"));
  CHECK_THAT(checkpoint::read(t.root / "fine" / "last.ckpt").network(), Catch::Contains("100 classes"));
  r = t.succeeds(cifar100(t.root / "coarse", {"--labels", "coarse", "--model", "vgg", "--arithmetic", "bf16"}));
  CHECK_THAT(r.output, Catch::Contains("CIFAR-100 (coarse labels)") && Catch::Contains("VGG4bit, 20 classes"));
  // cifar_model exports the 20-class network and tests it on the coarse labels.
  const std::string coarse_checkpoint = (t.root / "coarse" / "last.ckpt").string(),
                    coarse_model = (t.root / "coarse.nibble").string();
  r = t.succeeds({NIBBLE_MODEL_TOOL, "export", "--checkpoint", coarse_checkpoint, "--output", coarse_model});
  CHECK_THAT(r.output, Catch::Contains("coarse.nibble: VGG4bit"));
  r = t.succeeds({NIBBLE_MODEL_TOOL, "evaluate", coarse_model, "--data", data.string(), "--checkpoint", coarse_checkpoint});
  CHECK_THAT(r.output, Catch::Contains("of 16 images)") && Catch::Contains("same top-1 on "));
  t.refused(cifar100(t.root / "other", {"--activations", "4"}),
            "--scheme paper with --bits 4 --activations 4 is not built for --model resnet (100 classes)");
  t.refused(cifar100(t.root / "other", {"--model", "fast-vgg"}), "--model fast-vgg is not built for 100 classes");
  CHECK(!fs::exists(t.root / "other"));
}

TEST_CASE("cifar_model exports a trained network, checks it against its checkpoint and classifies images", "[fault]") {
  trainer_runs t;
  auto model_tool = [](std::vector<std::string> a) {
    a.insert(a.begin(), NIBBLE_MODEL_TOOL);
    return a;
  };
  // VGG4bit W4A8: an integer network, which the C header can also hold.
  const fs::path run = t.root / "w4a8", ckpt = run / "last.ckpt";
  t.succeeds(t.args(run, 1, {"--model", "vgg", "--activations", "8"}));
  const fs::path model = t.root / "w4a8.nibble", header = t.root / "w4a8.h";
  auto r = t.succeeds(model_tool(
      {"export", "--checkpoint", ckpt.string(), "--output", model.string(), "--c-header", header.string()}));
  CHECK_THAT(r.output, Catch::Contains("VGG4bit") && Catch::Contains("C99 header, prefix w4a8"));
  CHECK_THAT(model_file::read(model).network(), Catch::Contains("10 classes"));
  CHECK_THAT(fixtures::file_text(header), Catch::Contains("w4a8_"));

  // The deployed integer network gives the trained network's logits, bit for bit.
  r = t.succeeds(model_tool({"evaluate", model.string(), "--data", t.data.string(), "--checkpoint", ckpt.string()}));
  CHECK_THAT(r.output, Catch::Contains("images/s") && Catch::Contains("of 32 images)") &&
                           Catch::Contains("same top-1 on 32 of 32 images, all logits bit for bit equal on 32,"));

  // A 32x32 binary PPM of the test file's first image.
  const std::string planes = fixtures::file_text(t.data / "test_batch.bin").substr(1, 3072);
  const fs::path image = t.root / "first.ppm";
  {
    std::ofstream out(image, std::ios::binary);
    out << "P6\n# a comment\n32 32\n255\n";
    for (int p = 0; p < 1024; ++p)
      for (int c = 0; c < 3; ++c) out.put(planes[std::size_t(c * 1024 + p)]);
  }
  r = t.succeeds(model_tool({"classify", model.string(), image.string()}));
  CHECK_THAT(r.output, Catch::Contains(image.string() + ":  ") && Catch::Contains("%  "));

  // What it cannot do, it says.
  std::ofstream(t.root / "wide.ppm", std::ios::binary) << "P6 64 32 255\n";
  t.refused(model_tool({"classify", model.string(), (t.root / "wide.ppm").string()}),
            "is not a binary PPM (P6) of 32x32 pixels with maxval 255");
  const fs::path float_run = t.root / "float";
  t.succeeds(t.args(float_run, 1, {"--bits", "32", "--max-batches", "1"}));
  t.refused(model_tool({"export", "--checkpoint", (float_run / "last.ckpt").string(), "--output",
                        (t.root / "float.nibble").string(), "--c-header", (t.root / "float.h").string()}),
            "cannot be exported as a C header: float weights have no C header");
  std::string damaged = fixtures::file_text(model);
  damaged[damaged.size() / 2] ^= 0x10;
  std::ofstream(t.root / "damaged.nibble", std::ios::binary) << damaged;
  const auto d = t.run(model_tool({"evaluate", (t.root / "damaged.nibble").string(), "--data", t.data.string()}));
  INFO(d.output);
  CHECK(d.exit_code != 0);
  CHECK_THAT(d.output, Catch::StartsWith("error: "));
  CHECK(d.output.size() < 500);
}
