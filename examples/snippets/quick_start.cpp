// The README's example: a network is a type, and training it on CIFAR-10
// with the paper's recipe takes a few lines. Reads the official binary
// release from data/cifar-10-batches-bin (scripts/setup-debian.sh --data).
// [snippet]
#include <memory>
#include <random>

#include <nibble/nibble.hpp>

namespace nb = nibble;

// VGG4bit, the paper's network: each layer is a template over its size and scheme.
template <std::size_t Classes, nb::quant_scheme S>
using vgg = nb::sequential<nb::input<3, 32, 32>,
    nb::conv2d<64, 3, S>, nb::batch_norm_relu, nb::conv2d<64, 3, S>, nb::batch_norm_relu, nb::max_pool2d<2>,
    nb::conv2d<128, 3, S>, nb::batch_norm_relu, nb::conv2d<128, 3, S>, nb::batch_norm_relu, nb::max_pool2d<2>,
    nb::conv2d<256, 3, S>, nb::batch_norm_relu, nb::conv2d<256, 3, S>, nb::batch_norm_relu, nb::max_pool2d<2>,
    nb::flatten, nb::linear<512, S>, nb::batch_norm_relu, nb::dropout<0.5f>, nb::linear<Classes, S>>;

using paper_net = vgg<10, nb::paper_4bit>;   // 15 weight levels, tanh clip, straight-through gradients
using int8_net = vgg<10, nb::int8_scheme>;   // the same network with 255 levels: one argument changed
static_assert(paper_net::parameter_count == 3'251'018);

int main() {
  const auto train_set = nb::data::read_cifar10("data/cifar-10-batches-bin", nb::data::split::train);
  const auto test_set = nb::data::read_cifar10("data/cifar-10-batches-bin", nb::data::split::test);
  auto net = std::make_unique<paper_net>();  // on the heap: a network holds its activations
  std::mt19937_64 rng(0);
  net->init(rng);
  nb::adamw opt;                       // AdamW, weight decay 5e-4
  const nb::train_options paper_recipe;  // the defaults: 150 epochs, batch 128, rate 1e-3, cosine T_max 100
  nb::train(*net, opt, train_set, test_set, paper_recipe);
  nb::save_weights("vgg4bit-w4.weights", *net);
}
// [end snippet]
