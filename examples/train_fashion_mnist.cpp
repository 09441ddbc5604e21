// Train a small quantized CNN of its own on Fashion-MNIST (28x28 grayscale
// clothes, 10 classes), as a user of the library would: read the IDX files,
// normalise with the training set's statistics, describe the network, train,
// save the weights, and evaluate on plain tensors. About 88-90 % test
// accuracy in three epochs with 4-bit weights.
//
// The data: Debian's dataset-fashion-mnist package installs the gzipped IDX
// files in /usr/share/datasets/fashion-mnist; elsewhere, download them from
// https://github.com/zalandoresearch/fashion-mnist and pass the folder with
// --data or NIBBLE_FASHION_MNIST.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <nibble/data/batch_loader.hpp>
#include <nibble/data/idx.hpp>
#include <nibble/io/weights_file.hpp>
#include <nibble/kernels/parallel.hpp>
#include <nibble/layers/batch_norm.hpp>
#include <nibble/layers/conv2d.hpp>
#include <nibble/layers/flatten.hpp>
#include <nibble/layers/linear.hpp>
#include <nibble/layers/max_pool2d.hpp>
#include <nibble/net/sequential.hpp>
#include <nibble/net/summary.hpp>
#include <nibble/quant/presets.hpp>
#include <nibble/train/evaluate.hpp>
#include <nibble/train/trainer.hpp>

#include "cli_checks.hpp"

namespace {

// Two 3x3 convolutions with pooling, then two linear layers. The bit width
// is the scheme: one template argument, or, for mixed precision, one for
// the first and last layers (which the literature keeps wider) and one for
// the rest. Every layer checks its own scheme at compile time.
template <nibble::quant_scheme Scheme, nibble::quant_scheme Outer = Scheme>
using fashion_net = nibble::sequential<nibble::input<1, 28, 28>,
    nibble::conv2d<32, 3, Outer>, nibble::batch_norm_relu, nibble::max_pool2d<2>,  // 32 x 14 x 14
    nibble::conv2d<64, 3, Scheme>, nibble::batch_norm_relu, nibble::max_pool2d<2>,  // 64 x 7 x 7
    nibble::flatten,
    nibble::linear<128, Scheme>, nibble::batch_norm_relu,
    nibble::linear<10, Outer>>;
using mixed_net = fashion_net<nibble::paper_4bit, nibble::int8_scheme>;
static_assert(nibble::is_valid_network<nibble::input<1, 28, 28>, nibble::conv2d<32, 3, nibble::int8_scheme>,
                                       nibble::conv2d<64, 3, nibble::paper_4bit>>);

struct options {
  std::string data;
  std::string bits = "4";
  int threads = 0;
  double expect_accuracy = 0;
  std::string save_weights;
  nibble::train_options train;
};

template <class Net>
int run(const options& c, const nibble::data::dataset& train_set, const nibble::data::dataset& test_set) {
  auto net = std::make_unique<Net>();
  std::mt19937_64 rng(c.train.seed);
  net->init(rng);
  fmt::print("{}", nibble::summary(*net));

  nibble::train_options o = c.train;
  o.t_max = double(o.epochs);  // one cosine half-period over the run
  o.model_name = "fashion_net";
  nibble::adamw opt{.weight_decay = 5e-4f};
  nibble::train(*net, opt, train_set, test_set, o);

  if (!c.save_weights.empty()) {
    nibble::save_weights(c.save_weights, *net, o.model_name);
    fmt::print("weights saved to {}\n", c.save_weights);
  }

  // The same figure from plain tensors: the whole test set as one tensor,
  // prepared with the test set's normalisation.
  nibble::data::batch_loader all(test_set, {.batch_size = test_set.size(), .shuffle = false, .augment = false});
  all.start_epoch(0);
  nibble::data::batch b;
  all.next(b);
  const nibble::evaluation e = nibble::evaluate(*net, b.images, b.labels);
  const std::vector<std::int32_t> predicted = nibble::predict(*net, b.images);
  fmt::print("test accuracy {:.2f}% ({} images, loss {:.4f}); the first eight predicted {}, labelled {}\n",
             100 * e.accuracy, e.images, e.loss, fmt::join(predicted.begin(), predicted.begin() + 8, " "),
             fmt::join(b.labels.begin(), b.labels.begin() + 8, " "));
  if (e.accuracy < c.expect_accuracy) {
    fmt::print(stderr, "error: test accuracy {:.2f}% is below the expected {:.2f}% (--expect-accuracy)\n",
               100 * e.accuracy, 100 * c.expect_accuracy);
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a small quantized CNN on Fashion-MNIST (IDX files, gzipped or not)"};
  options c;
  const char* env = std::getenv("NIBBLE_FASHION_MNIST");
  c.data = env ? env : "/usr/share/datasets/fashion-mnist";
  auto& t = c.train;
  t.epochs = 3;
  t.batch_size = 128;
  t.learning_rate = 2e-3;
  t.augment = {0, false};
  app.add_option("--data", c.data, "Folder with the four IDX files (env NIBBLE_FASHION_MNIST)")->capture_default_str();
  app.add_option("--bits", c.bits, "Weight bits: 4, 8, or mixed (8-bit first and last layers, 4-bit between)")
      ->check(CLI::IsMember({"4", "8", "mixed"}))->capture_default_str();
  app.add_option("--epochs", t.epochs, "Epochs to train")->check(count_from(1, 100000))->capture_default_str();
  app.add_option("--batch-size", t.batch_size, "Images per batch")->check(count_from(1, 65536))->capture_default_str();
  app.add_option("--lr", t.learning_rate, "Peak learning rate (cosine to 0 over the run)")
      ->check(finite_number(0, false))->capture_default_str();
  app.add_option("--pad", t.augment.pad, "Random-crop padding in pixels (0: no crops)")
      ->check(count_from(0, 27))->capture_default_str();
  app.add_flag("--flip", t.augment.flip, "Mirror training images at random");
  app.add_option("--seed", t.seed, "Seed for initialisation, shuffling and augmentation")->capture_default_str();
  app.add_option("--threads", c.threads, "Compute threads (0: all cores)")->check(count_from(0, 1 << 20));
  app.add_option("--checkpoint-dir", t.checkpoint_dir, "Save last.ckpt here after every epoch");
  app.add_flag("--resume", t.resume, "Continue the run in <checkpoint-dir>/last.ckpt");
  app.add_flag("--overwrite", t.overwrite, "Discard an earlier run's checkpoint and metrics and start again");
  app.add_option("--metrics", t.metrics_file, "Per-epoch metrics file (.csv, or .jsonl for JSON lines)");
  app.add_option("--save-weights", c.save_weights, "Write the trained weights (no optimizer state) to this file");
  app.add_option("--max-batches", t.max_batches, "Stop each epoch after this many batches (0: all)");
  app.add_option("--expect-accuracy", c.expect_accuracy,
                 "Exit with status 3 if the final test accuracy is below this fraction (for scripts and tests)")
      ->check(finite_number(0, true, 1));
  app.add_flag("!--no-progress", t.progress, "Hide the progress bar");
  CLI11_PARSE(app, argc, argv);
  try {
    if (c.threads > 0) nibble::kernels::set_threads(std::min(c.threads, nibble::kernels::core_count()));
    namespace data = nibble::data;
    const std::filesystem::path folder = c.data;
    data::dataset train_set =
        data::read_idx_dataset(folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz", 10);
    data::dataset test_set =
        data::read_idx_dataset(folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz", 10);
    // No published statistics in the files: the training set's, for both sets.
    train_set.norm = test_set.norm = data::channel_statistics(train_set);
    fmt::print("Fashion-MNIST from {}: {} training, {} test images of {}; mean {:.4f}, deviation {:.4f}; {} threads\n",
               c.data, train_set.size(), test_set.size(), train_set.shape.text(), train_set.norm.mean[0],
               train_set.norm.std[0], nibble::kernels::max_threads());
    if (c.bits == "mixed") return run<mixed_net>(c, train_set, test_set);
    return c.bits == "4" ? run<fashion_net<nibble::paper_4bit>>(c, train_set, test_set)
                         : run<fashion_net<nibble::int8_scheme>>(c, train_set, test_set);
  } catch (const nibble::data::data_error& e) {
    fmt::print(stderr,
               "error: {}\nOn Debian: apt-get install dataset-fashion-mnist. Elsewhere, the files are at "
               "https://github.com/zalandoresearch/fashion-mnist; pass their folder with --data or "
               "NIBBLE_FASHION_MNIST.\n",
               e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
  }
  return 1;
}
