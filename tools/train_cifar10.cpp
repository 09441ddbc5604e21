// Train a network of the catalogue on CIFAR-10; the defaults are the
// recipe of "True 4-Bit Quantized CNN Training on CPU" (VGG4bit, 4-bit weights).
#include "train_program.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Train a quantized CNN on CIFAR-10 (official binary files)"};
  cifar_cli c;
  add_common_options(app, c, "data/cifar-10-batches-bin");
  CLI11_PARSE(app, argc, argv);
  try {
    apply_threads(c);
    const auto train_set = nibble::data::read_cifar10(c.data, nibble::data::split::train);
    const auto test_set = nibble::data::read_cifar10(c.data, nibble::data::split::test);
    fmt::print("CIFAR-10 from {}: {} training, {} test images\n", c.data, train_set.size(), test_set.size());
    return train_chosen_variant(c, train_set, test_set);
  } catch (const nibble::data::data_error& e) {
    fmt::print(stderr,
               "error: {}\nCIFAR-10 is not there: run scripts/setup-debian.sh --data (or scripts/fetch-cifar10.sh), or "
               "pass a folder with --data or NIBBLE_DATA (the archive: "
               "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz).\n",
               e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
  }
  return 1;
}
