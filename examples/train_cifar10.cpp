// Train VGG4bit (or SimpleResNet4bit) on CIFAR-10 with the recipe of "True
// 4-Bit Quantized CNN Training on CPU". Defaults reproduce the paper.
#include "cifar_main.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Train a quantized CNN on CIFAR-10 (official binary files)"};
  cifar_cli c;
  add_common_options(app, c, "data/cifar-10-batches-bin");
  add_scheme_option(app, c);
  CLI11_PARSE(app, argc, argv);
  try {
    apply_threads(c);
    const auto train_set = nibble::data::read_cifar10(c.data, nibble::data::split::train);
    const auto test_set = nibble::data::read_cifar10(c.data, nibble::data::split::test);
    fmt::print("CIFAR-10 from {}: {} training, {} test images\n", c.data, train_set.size(), test_set.size());
    return dispatch<10>(c, train_set, test_set);
  } catch (const nibble::data::data_error& e) {
    fmt::print(stderr,
               "error: {}\nCIFAR-10 binary files are at https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz; "
               "extract and pass the folder with --data or NIBBLE_DATA.\n",
               e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
  }
  return 1;
}
