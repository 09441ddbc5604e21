// libFuzzer target: the CIFAR-10 and CIFAR-100 record parsers on arbitrary
// file contents. The first byte picks the format; the rest is the file.
// Refusing with data_error is the only acceptable failure; a crash, a
// sanitizer report or any other exception is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "nibble/data/cifar.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const std::uint8_t> file(data + 1, size - 1);
  nibble::data::dataset d;
  try {
    switch (data[0] % 3) {
      case 0: nibble::data::append_cifar10_records(d, file, "fuzz.bin"); break;
      case 1: nibble::data::append_cifar100_records(d, file, "fuzz.bin", nibble::data::cifar100_labels::fine, 10000); break;
      default: nibble::data::append_cifar100_records(d, file, "fuzz.bin", nibble::data::cifar100_labels::coarse, 10000);
    }
  } catch (const nibble::data::data_error&) {
    return 0;
  }
  // Accepted: every image is whole and every label in range.
  if (d.pixels.size() != d.size() * nibble::data::cifar_image_bytes) std::abort();
  for (auto label : d.labels)
    if (label < 0 || label >= d.classes) std::abort();
  return 0;
}
