#pragma once
// Readers for the official CIFAR-10 and CIFAR-100 binary distributions.
//
// Both formats are flat sequences of fixed-size records: label byte(s)
// followed by one 32x32 RGB image stored channel-major (1024 R, 1024 G,
// 1024 B bytes, each plane row-major). The pixels are kept as bytes; turning
// them into normalised floats is the job of augment.hpp, once per batch.
// Each reader returns a dataset (dataset.hpp) of 3x32x32 byte images with
// the usual CIFAR statistics as its normalisation.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "nibble/data/dataset.hpp"
#include "nibble/data/files.hpp"
#include "nibble/core/message_words.hpp"

namespace nibble::data {

inline constexpr image_shape cifar_image{3, 32, 32};
inline constexpr std::size_t cifar_image_bytes = 3 * 32 * 32;  // 3072

// The usual CIFAR-10 training-set statistics (also used for CIFAR-100).
inline normalisation cifar_normalisation() {
  return {{0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}};
}

enum class split { train, test };

enum class cifar100_labels { fine, coarse };

namespace detail {

using nibble::quoted;

// Rejects anything that is not a positive whole number of records, so a
// truncated download fails loudly.
inline void check_record_count(std::size_t actual, std::size_t record_bytes, std::size_t official_records,
                               const std::string& what) {
  const std::string expected = "expected a positive multiple of " + std::to_string(record_bytes) +
                               " bytes (official files hold " + std::to_string(official_records) +
                               " records = " + std::to_string(official_records * record_bytes) + " bytes)";
  if (actual == 0) throw data_error(what + "file is empty; " + expected + ", got 0 bytes");
  if (actual % record_bytes != 0)
    throw data_error(what + "size is not a whole number of " + std::to_string(record_bytes) + "-byte records (" +
                     expected + ", got " + std::to_string(actual) + " bytes = " +
                     std::to_string(actual / record_bytes) + " records + " + std::to_string(actual % record_bytes) +
                     " bytes); the file is truncated or not in this format");
}

inline void check_label(const std::filesystem::path& file, std::size_t record, const char* kind, int value,
                        int classes) {
  if (value < classes) return;  // bytes are never negative
  throw data_error("nibble::data: bad record in " + quoted(file) + ": record " + std::to_string(record) + " has " +
                   kind + " " + std::to_string(value) + ", expected 0.." + std::to_string(classes - 1));
}

// How one of the two formats lays out its records.
struct record_format {
  const char* name;               // "CIFAR-10"
  std::size_t label_bytes;        // leading label bytes per record
  std::size_t label_offset;       // which of them is the label kept
  const int* label_classes;       // valid range of each label byte
  const char* const* label_kinds;  // what messages call each
};

// Appends every record of one file's bytes (`file` names it in messages);
// every label byte is validated.
inline void append_records(dataset& out, std::span<const std::uint8_t> bytes, const std::filesystem::path& file,
                           const record_format& f, std::size_t official_records) {
  const std::size_t record_bytes = f.label_bytes + cifar_image_bytes;
  check_record_count(bytes.size(), record_bytes, official_records, cannot_read(file, f.name));
  const std::size_t records = bytes.size() / record_bytes;
  out.labels.reserve(out.labels.size() + records);
  out.pixels.reserve(out.pixels.size() + records * cifar_image_bytes);
  out.shape = cifar_image;
  if (out.norm.empty()) out.norm = cifar_normalisation();
  for (std::size_t r = 0; r < records; ++r) {
    const std::uint8_t* record = bytes.data() + r * record_bytes;
    for (std::size_t k = 0; k < f.label_bytes; ++k)
      check_label(file, r, f.label_kinds[k], record[k], f.label_classes[k]);
    out.labels.push_back(record[f.label_offset]);
    out.pixels.insert(out.pixels.end(), record + f.label_bytes, record + record_bytes);
  }
}

inline constexpr int cifar10_classes[] = {10};
inline constexpr const char* cifar10_kinds[] = {"label"};
inline constexpr record_format cifar10_format{"CIFAR-10", 1, 0, cifar10_classes, cifar10_kinds};
inline constexpr int cifar100_classes[] = {20, 100};
inline constexpr const char* cifar100_kinds[] = {"coarse label", "fine label"};
inline constexpr record_format cifar100_format(cifar100_labels which) {
  return {"CIFAR-100", 2, which == cifar100_labels::fine ? 1u : 0u, cifar100_classes, cifar100_kinds};
}

}  // namespace detail

// The records of one CIFAR-10 file, from its bytes; `file` names it in
// messages. (read_cifar10 calls it per file; the fuzz tests call it directly.)
inline void append_cifar10_records(dataset& out, std::span<const std::uint8_t> bytes,
                                   const std::filesystem::path& file) {
  out.classes = 10;
  detail::append_records(out, bytes, file, detail::cifar10_format, 10000);
}
inline void append_cifar100_records(dataset& out, std::span<const std::uint8_t> bytes,
                                    const std::filesystem::path& file, cifar100_labels which, std::size_t official) {
  out.classes = which == cifar100_labels::fine ? 100 : 20;
  detail::append_records(out, bytes, file, detail::cifar100_format(which), official);
}

// CIFAR-10: train = data_batch_1.bin .. data_batch_5.bin, test = test_batch.bin;
// records of 3073 bytes (label 0-9, then 3072 pixel bytes).
inline dataset read_cifar10(const std::filesystem::path& folder, split s) {
  dataset out;
  out.classes = 10;
  auto add = [&](const std::filesystem::path& file) {
    append_cifar10_records(out, detail::read_bytes(file, "CIFAR-10"), file);
  };
  if (s == split::test) {
    add(folder / "test_batch.bin");
  } else {
    for (int i = 1; i <= 5; ++i) add(folder / ("data_batch_" + std::to_string(i) + ".bin"));
  }
  return out;
}

// CIFAR-100: train.bin / test.bin; records of 3074 bytes (coarse label 0-19,
// fine label 0-99, then 3072 pixel bytes). Both labels are validated, one kept.
inline dataset read_cifar100(const std::filesystem::path& folder, split s,
                             cifar100_labels which = cifar100_labels::fine) {
  const bool train = s == split::train;
  const std::filesystem::path file = folder / (train ? "train.bin" : "test.bin");
  dataset out;
  append_cifar100_records(out, detail::read_bytes(file, "CIFAR-100"), file, which, train ? 50000 : 10000);
  return out;
}

}  // namespace nibble::data
