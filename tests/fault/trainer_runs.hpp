// What the tests of the CIFAR programs share: small CIFAR-10 and CIFAR-100
// folders in the official layout, and the trainer's command line for a run.
#pragma once
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "../training_fixtures.hpp"
#include "child_process.hpp"

namespace fault {

namespace fs = std::filesystem;
// `records` records in the official layout: a random class, its label
// bytes (`labels`), then the image, a noisy shade of the class (`shade`
// grey levels apart).
template <class Labels>
void write_records(const fs::path& file, int records, int classes, int shade, std::mt19937& rng, Labels labels) {
  std::ofstream out(file, std::ios::binary);
  for (int r = 0; r < records; ++r) {
    const int c = int(rng() % unsigned(classes));
    for (const int byte : labels(c)) out.put(char(byte));
    for (int p = 0; p < 3072; ++p) out.put(char((c * shade + int(rng() % 30)) & 0xFF));
  }
}

// A CIFAR-10 folder: five training files of 16 images and a test file of 32.
inline fs::path write_cifar10(const fs::path& folder) {
  fs::create_directories(folder);
  std::mt19937 rng(11);
  auto label = [](int c) { return std::vector<int>{c}; };
  for (int i = 1; i <= 5; ++i)
    write_records(folder / ("data_batch_" + std::to_string(i) + ".bin"), 16, 10, 25, rng, label);
  write_records(folder / "test_batch.bin", 32, 10, 25, rng, label);
  return folder;
}

// A CIFAR-100 folder: train.bin with 48 images and test.bin with 16, each
// record a coarse label and a fine label before the image.
inline fs::path write_cifar100(const fs::path& folder) {
  fs::create_directories(folder);
  std::mt19937 rng(12);
  auto labels = [](int fine) { return std::vector<int>{fine / 5, fine}; };
  write_records(folder / "train.bin", 48, 100, 2, rng, labels);
  write_records(folder / "test.bin", 16, 100, 2, rng, labels);
  return folder;
}

struct trainer_runs {
  fs::path root = fixtures::fresh_folder("fault");
  fs::path data = write_cifar10(root / "data");

  // args() without its --model, so that a recipe picks the network.
  std::vector<std::string> args_without_model(const fs::path& run, int run_epochs,
                                              std::vector<std::string> extra) const {
    std::vector<std::string> a = args(run, run_epochs, std::move(extra));
    const auto model_flag = std::find(a.begin(), a.end(), "--model");
    a.erase(model_flag, model_flag + 2);
    return a;
  }

  // The command for a run in folder `run`; `extra` adds flags or replaces
  // the value of one given here.
  std::vector<std::string> args(const fs::path& run, int run_epochs, std::vector<std::string> extra = {}) const {
    std::vector<std::pair<std::string, std::string>> flags = {
        {"--data", data.string()}, {"--model", "resnet"},  {"--batch-size", "16"},
        {"--epochs", std::to_string(run_epochs)},          {"--threads", "1"},
        {"--seed", "3"},           {"--checkpoint-dir", run.string()},
        {"--metrics", (run / "metrics.csv").string()}};
    std::vector<std::string> plain = {"--no-progress"};
    for (std::size_t i = 0; i < extra.size(); ++i) {
      auto given = std::find_if(flags.begin(), flags.end(), [&](const auto& f) { return f.first == extra[i]; });
      if (given != flags.end() && i + 1 < extra.size())
        given->second = extra[++i];
      else
        plain.push_back(extra[i]);
    }
    std::vector<std::string> a = {NIBBLE_TRAINER};
    for (const auto& [flag, value] : flags) a.insert(a.end(), {flag, value});
    a.insert(a.end(), plain.begin(), plain.end());
    return a;
  }
  fault::child_result run(const std::vector<std::string>& a, const fault::child_options& o = {}) const {
    return fault::run_child(a, o, root / "output.txt");
  }
  // Runs a command that must succeed.
  fault::child_result succeeds(const std::vector<std::string>& a) const {
    auto r = run(a);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    return r;
  }
  // The command fails with a non-zero exit, saying `message`.
  void refused(const std::vector<std::string>& a, const std::string& message) const {
    const auto r = run(a);
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Catch::Contains(message));
  }
  ~trainer_runs() { fs::remove_all(root); }
};

// The columns of a metrics row that a rerun reproduces (not times or speeds).
inline std::string reproducible_columns(const std::string& row) {
  std::string out, cell;
  int column = 0;
  for (char c : row + ",") {
    if (c != ',') {
      cell += c;
      continue;
    }
    if (column < 6 || column > 8) out += cell + ",";
    cell.clear();
    ++column;
  }
  return out;
}
inline std::vector<std::string> metrics_rows(const fs::path& file) {
  auto lines = fixtures::lines(fixtures::file_text(file));
  if (!lines.empty()) lines.erase(lines.begin());  // the header
  for (auto& l : lines) l = reproducible_columns(l);
  return lines;
}


}  // namespace fault
