// Train a network of the catalogue on CIFAR-100, fine (100) or coarse (20)
// labels; the defaults are the recipe of "True 4-Bit Quantized CNN
// Training on CPU".
#include "train_program.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Train a quantized CNN on CIFAR-100 (official binary files)"};
  cifar_cli c;
  c.labels = "fine";
  add_common_options(app, c, "data/cifar-100-binary");
  app.add_option("--labels", c.labels, "fine (100 classes) or coarse (20 classes)")
      ->check(CLI::IsMember({"fine", "coarse"}))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    apply_threads(c);
    using nibble::data::cifar100_labels;
    const auto which = c.labels == "fine" ? cifar100_labels::fine : cifar100_labels::coarse;
    const auto train_set = nibble::data::read_cifar100(c.data, nibble::data::split::train, which);
    const auto test_set = nibble::data::read_cifar100(c.data, nibble::data::split::test, which);
    fmt::print("CIFAR-100 ({} labels) from {}: {} training, {} test images\n", c.labels, c.data, train_set.size(),
               test_set.size());
    return train_chosen_variant(c, train_set, test_set);
  } catch (const nibble::data::data_error& e) {
    fmt::print(stderr,
               "error: {}\nCIFAR-100 binary files are at https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz; "
               "extract and pass the folder with --data or NIBBLE_DATA.\n",
               e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
  }
  return 1;
}
