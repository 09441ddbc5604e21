// docs/guide/networks.md: your own data and your own network, trained,
// saved, evaluated and asked for predictions. examples/train_fashion_mnist.cpp
// is the same program with flags. Reads Fashion-MNIST's gzipped IDX files
// from the current folder.
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include <fmt/core.h>

// [snippet]
#include <nibble/nibble.hpp>
namespace data = nibble::data;

using net_type = nibble::sequential<nibble::input<1, 28, 28>,
    nibble::conv2d<32, 3, nibble::paper_4bit>, nibble::batch_norm_relu, nibble::max_pool2d<2>,
    nibble::conv2d<64, 3, nibble::paper_4bit>, nibble::batch_norm_relu, nibble::max_pool2d<2>,
    nibble::flatten, nibble::linear<128, nibble::paper_4bit>, nibble::batch_norm_relu,
    nibble::linear<10, nibble::paper_4bit>>;

int main() {
  data::dataset train_set = data::read_idx_dataset("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
  data::dataset test_set = data::read_idx_dataset("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");
  train_set.norm = test_set.norm = data::channel_statistics(train_set);  // per-channel mean and deviation

  auto net = std::make_unique<net_type>();
  std::mt19937_64 rng(0);
  net->init(rng);
  fmt::print("{}", nibble::summary(*net));          // layers, output shapes, parameters, schemes
  nibble::adamw opt;
  nibble::train_options options;                  // defaults: the paper's recipe
  options.epochs = 3;
  options.learning_rate = 2e-3;
  options.t_max = 3;                               // one cosine half-period over the run
  options.augment = {.pad = 0, .flip = false};     // no crops, no mirror images
  nibble::train(*net, opt, train_set, test_set, options);
  nibble::save_weights("fashion.weights", *net);   // no optimizer state; load_weights reads it back

  const nibble::evaluation e = nibble::evaluate(*net, test_set);  // accuracy, loss, images
  // Plain tensors: the first 8 test images, normalised as the network takes them (N x 1 x 28 x 28).
  data::batch_loader first(test_set, {.batch_size = 8, .shuffle = false, .augment = false});
  first.start_epoch(0);
  data::batch b;
  first.next(b);
  const std::vector<std::int32_t> classes = nibble::predict(*net, b.images);
  fmt::print("test accuracy {:.2f} %; the first image is class {}\n", 100 * e.accuracy, classes[0]);
}
// [end snippet]
