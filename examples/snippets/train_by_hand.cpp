// docs/guide/training.md: one epoch of training written out step by step,
// which is what nibble::train_step (train/step.hpp) and nibble::train
// (train/trainer.hpp) do for you. Reads CIFAR-10 from
// data/cifar-10-batches-bin.
#include <memory>
#include <random>

#include <fmt/core.h>
#include <nibble/nibble.hpp>

// [snippet]
int main() {
  const auto train_set = nibble::data::read_cifar10("data/cifar-10-batches-bin", nibble::data::split::train);
  using paper_net = nibble::vgg4bit<10, nibble::paper_4bit>;
  auto net = std::make_unique<paper_net>();
  std::mt19937_64 rng(0);
  net->init(rng);                                      // He init (N(0, 2/fan_in)), N(0, 1/fan_in) for linear; zero biases
  nibble::adamw opt{.weight_decay = 5e-4f};
  nibble::context ctx;                                 // mode::train: batch statistics, dropout
  nibble::data::batch_loader loader(train_set, {.batch_size = 128});  // shuffled, cropped, flipped, normalised
  loader.start_epoch(0);
  nibble::data::batch b;
  nibble::activation grad;
  for (std::uint64_t step = 0; loader.next(b); ++step) {
    ctx.begin_step(step);                              // counter-based draws (stochastic rounding) follow the step
    const nibble::activation& logits = net->forward(b.images, ctx);   // (N, 3, 32, 32) -> (N, 10, 1, 1)
    const nibble::loss_result r = nibble::softmax_cross_entropy(logits, b.labels, grad);
    net->backward(grad, nullptr, ctx);                 // STE: dL/dW = dL/dWq
    nibble::clip_gradient_norm(*net, 0.5);
    opt.step(*net, 1e-3f);
    net->post_step();                                  // the scheme's clip: W <- 3 tanh(W / 3)
    if (step % 100 == 0) fmt::print("step {}: loss {:.4f}\n", step, r.loss);
  }
}
// [end snippet]
