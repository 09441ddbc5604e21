// Checkpoints and the trainer's resume: a resumed run must match an
// uninterrupted one bit for bit; other network types and damaged files are
// refused with a message naming the file.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "nibble/io/checkpoint.hpp"
#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/dropout.hpp"
#include "nibble/layers/global_avg_pool.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/layers/relu.hpp"
#include "nibble/net/sequential.hpp"
#include "nibble/quant/presets.hpp"
#include "nibble/train/trainer.hpp"

using namespace nibble;
namespace fs = std::filesystem;

namespace {

template <class S>
using small_net = sequential<input<3, 32, 32>, conv2d<4, 3, S, 2>, batch_norm, relu, global_avg_pool, dropout<0.25f>,
                             linear<2, S>>;

fs::path fresh_folder(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("nibble_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// Images whose label is whether the red channel is brighter than the blue one.
data::dataset colour_dataset(std::size_t n, std::uint64_t seed) {
  data::dataset d;
  d.classes = 2;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  d.pixels.resize(n * data::image_bytes);
  d.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int red = byte(rng), blue = byte(rng);
    d.labels[i] = red > blue ? 1 : 0;
    std::uint8_t* img = d.pixels.data() + i * data::image_bytes;
    for (std::size_t p = 0; p < 1024; ++p) {
      img[p] = std::uint8_t(red);
      img[1024 + p] = std::uint8_t(byte(rng));
      img[2048 + p] = std::uint8_t(blue);
    }
  }
  return d;
}

template <class Net>
std::vector<float> all_values(Net& net) {
  std::vector<float> v;
  net.visit_parameters([&](parameter& p) { v.insert(v.end(), p.value.begin(), p.value.end()); });
  net.visit_buffers([&](xt::xtensor<float, 1>& b) { v.insert(v.end(), b.begin(), b.end()); });
  return v;
}

}  // namespace

TEST_CASE("checkpoint round trip restores parameters, statistics and optimizer state", "[checkpoint]") {
  const fs::path dir = fresh_folder("roundtrip");
  small_net<paper_4bit> a, b;
  std::mt19937_64 rng(1);
  a.init(rng);
  b.init(rng);
  adamw oa, ob;
  oa.m = {{1.0f, 2.0f}};
  oa.v = {{3.0f}};
  oa.steps = 42;
  save_checkpoint(dir / "c.ckpt", a, oa, 7);
  CHECK(fs::exists(dir / "c.ckpt"));
  CHECK_FALSE(fs::exists(dir / "c.ckpt.tmp"));
  CHECK(load_checkpoint(dir / "c.ckpt", b, ob) == 7);
  CHECK(all_values(a) == all_values(b));
  CHECK(ob.steps == 42);
  CHECK(ob.m == oa.m);
  CHECK(ob.v == oa.v);
  fs::remove_all(dir);
}

TEST_CASE("a checkpoint of another network type is refused, naming both types", "[checkpoint]") {
  const fs::path dir = fresh_folder("othertype");
  small_net<paper_4bit> four;
  small_net<int8_scheme> eight;
  adamw opt;
  save_checkpoint(dir / "c.ckpt", four, opt, 1);
  CHECK_THROWS_WITH(load_checkpoint(dir / "c.ckpt", eight, opt),
                    Catch::Contains("different network type") && Catch::Contains("c.ckpt") &&
                        Catch::Contains("bits<8>") && Catch::Contains("bits<4>"));
  fs::remove_all(dir);
}

TEST_CASE("damaged checkpoints are refused", "[checkpoint]") {
  const fs::path dir = fresh_folder("damaged");
  small_net<paper_4bit> net;
  adamw opt;
  save_checkpoint(dir / "c.ckpt", net, opt, 1);
  fs::resize_file(dir / "c.ckpt", fs::file_size(dir / "c.ckpt") / 2);
  CHECK_THROWS_WITH(load_checkpoint(dir / "c.ckpt", net, opt), Catch::Contains("truncated"));
  std::ofstream(dir / "junk.ckpt") << "not a checkpoint at all";
  CHECK_THROWS_WITH(load_checkpoint(dir / "junk.ckpt", net, opt), Catch::Contains("not a nibble checkpoint"));
  CHECK_THROWS_WITH(load_checkpoint(dir / "missing.ckpt", net, opt), Catch::Contains("missing.ckpt"));
  fs::remove_all(dir);
}

TEST_CASE("training learns, writes metrics, and a resumed run equals an uninterrupted one", "[trainer]") {
  const fs::path dir = fresh_folder("resume");
  const auto train_set = colour_dataset(96, 1), test_set = colour_dataset(64, 2);
  train_options o;
  o.epochs = 4;
  o.batch_size = 16;
  o.learning_rate = 1e-2;
  o.progress = false;
  o.seed = 5;

  small_net<paper_4bit> straight;
  std::mt19937_64 rng(3);
  straight.init(rng);
  adamw opt_straight;
  o.metrics_file = dir / "straight.jsonl";
  const auto history = train(straight, opt_straight, train_set, test_set, o, std::tmpfile());
  REQUIRE(history.size() == 4);
  CHECK(history.back().test_accuracy > 0.8);
  CHECK(history.back().weight_levels.size() == 2);

  small_net<paper_4bit> resumed;
  std::mt19937_64 rng2(3);
  resumed.init(rng2);
  adamw opt_resumed;
  o.checkpoint_dir = dir / "ckpt";
  o.metrics_file = dir / "resumed.csv";
  o.epochs = 2;
  train(resumed, opt_resumed, train_set, test_set, o, std::tmpfile());
  small_net<paper_4bit> restarted;  // a new process: fresh objects, state only from the file
  adamw opt_restarted;
  o.epochs = 4;
  o.resume = true;
  const auto rest = train(restarted, opt_restarted, train_set, test_set, o, std::tmpfile());
  REQUIRE(rest.size() == 2);
  CHECK(rest.front().epoch == 3);
  CHECK(all_values(restarted) == all_values(straight));

  std::ifstream csv(dir / "resumed.csv");
  std::string header, line;
  std::getline(csv, header);
  CHECK(header.rfind("epoch,learning_rate,train_loss", 0) == 0);
  std::size_t rows = 0;
  while (std::getline(csv, line)) ++rows;
  CHECK(rows == 4);  // two epochs, then two more appended after the resume
  std::ifstream jsonl(dir / "straight.jsonl");
  std::getline(jsonl, line);
  CHECK(line.rfind("{\"epoch\":1,", 0) == 0);
  CHECK(line.find("\"weight_levels\":[") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("metrics files need a known extension", "[trainer]") {
  CHECK_THROWS_WITH(metrics_writer(fs::temp_directory_path() / "m.txt"), Catch::Contains(".csv"));
}
