// Train VGG4bit (or SimpleResNet4bit) on CIFAR-100, fine (100) or coarse
// (20) labels, with the recipe of "True 4-Bit Quantized CNN Training on CPU".
#include "cifar_main.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Train a quantized CNN on CIFAR-100 (official binary files)"};
  cifar_cli c;
  std::string labels = "fine";
  c.quantized_activations_built = false;
  c.fast_vgg_built = false;
  add_common_options(app, c, "data/cifar-100-binary");
  app.add_option("--labels", labels, "fine (100 classes) or coarse (20 classes)")
      ->check(CLI::IsMember({"fine", "coarse"}))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    apply_threads(c);
    using nibble::data::cifar100_labels;
    const auto which = labels == "fine" ? cifar100_labels::fine : cifar100_labels::coarse;
    const auto train_set = nibble::data::read_cifar100(c.data, nibble::data::split::train, which);
    const auto test_set = nibble::data::read_cifar100(c.data, nibble::data::split::test, which);
    fmt::print("CIFAR-100 ({} labels) from {}: {} training, {} test images\n", labels, c.data, train_set.size(),
               test_set.size());
    return which == cifar100_labels::fine ? dispatch<100>(c, train_set, test_set) : dispatch<20>(c, train_set, test_set);
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
