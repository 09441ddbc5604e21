// docs/guide/training.md: fine-tuning, i.e. starting a quantized network
// from a float one of the same topology that a run checkpointed (what the
// trainers' --init-from does), then training it with checkpoints.
#include <memory>
#include <random>

#include <nibble/nibble.hpp>

// [snippet]
int main() {
  const auto train_set = nibble::data::read_cifar10("data/cifar-10-batches-bin", nibble::data::split::train);
  const auto test_set = nibble::data::read_cifar10("data/cifar-10-batches-bin", nibble::data::split::test);
  auto net = std::make_unique<nibble::vgg4bit<10, nibble::pot_w4>>();   // power-of-two 4-bit weights
  const nibble::checkpoint source = nibble::checkpoint::read("runs/vgg-float/last.ckpt");  // a --bits 32 run
  nibble::init_from_float(source, *net);   // refused, naming the layer, if the topology differs
  nibble::adamw opt;
  nibble::train_options options;
  options.epochs = 4;
  options.checkpoint_dir = "runs/vgg-pot-finetuned";   // last.ckpt after every epoch, atomically
  options.metrics_file = "runs/vgg-pot-finetuned/metrics.csv";
  nibble::train(*net, opt, train_set, test_set, options);
}
// [end snippet]
