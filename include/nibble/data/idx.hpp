#pragma once
// A reader for IDX files, the format of MNIST and Fashion-MNIST: a magic
// number (two zero bytes, a type byte, the number of dimensions), each
// dimension as a big-endian u32, then the values in row-major order. A
// gzipped file (.gz, as the data sets are distributed) is decompressed on
// the way. Only unsigned-byte values (type 0x08) are read: that is what the
// image and label files hold.
//
// read_idx_dataset pairs an images file (N x H x W, grayscale) with a
// labels file (N) into a dataset of 1 x H x W byte images. It sets no
// normalisation: give both sets the training set's channel_statistics, or
// the data set's published figures.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "nibble/core/message_words.hpp"

#include "nibble/data/dataset.hpp"
#include "nibble/data/files.hpp"
#include "nibble/data/gzip.hpp"

namespace nibble::data {

struct idx_array {
  std::vector<std::size_t> dims;
  std::vector<std::uint8_t> values;  // product of dims, row-major
};

// Parses the bytes of an IDX file (gzipped or not); `file` names it in messages.
inline idx_array parse_idx(std::span<const std::uint8_t> bytes, const std::filesystem::path& file) {
  const std::string what = detail::cannot_read(file, "IDX");
  std::vector<std::uint8_t> inflated;
  if (is_gzip(bytes)) {
    inflated = gunzip(bytes, what);
    bytes = inflated;
  }
  if (bytes.size() < 4) throw data_error(what + "it holds " + std::to_string(bytes.size()) + " bytes, fewer than the 4 of the magic number");
  if (bytes[0] != 0 || bytes[1] != 0)
    throw data_error(what + "it does not start with an IDX magic number (two zero bytes, a type, a rank)");
  if (bytes[2] != 0x08) {
    const char* hex = "0123456789abcdef";
    throw data_error(what + "its values are of IDX type 0x" + hex[bytes[2] >> 4] + hex[bytes[2] & 15] +
                     "; only unsigned bytes (0x08) are read");
  }
  const std::size_t rank = bytes[3];
  if (rank == 0) throw data_error(what + "it declares 0 dimensions");
  const std::size_t header = 4 + 4 * rank;
  if (bytes.size() < header)
    throw data_error(what + "it ends inside its header (" + std::to_string(rank) + " dimensions need " +
                     std::to_string(header) + " bytes, the file has " + std::to_string(bytes.size()) + ")");
  idx_array a;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::uint8_t* p = bytes.data() + 4 + 4 * d;
    a.dims.push_back(std::size_t(p[0]) << 24 | std::size_t(p[1]) << 16 | std::size_t(p[2]) << 8 | p[3]);
  }
  // The number of values the dimensions declare (overflow is caught, not wrapped).
  const std::size_t available = bytes.size() - header;
  std::size_t count = 1;
  bool overflow = false;
  for (std::size_t n : a.dims) {
    if (n != 0 && count > std::numeric_limits<std::size_t>::max() / n) overflow = true;
    count *= n;
  }
  if (std::find(a.dims.begin(), a.dims.end(), std::size_t{0}) != a.dims.end()) {  // no values at all
    overflow = false;
    count = 0;
  }
  if (overflow || count != available) {
    std::string dims;
    for (std::size_t d = 0; d < rank; ++d) dims += (d ? " x " : "") + std::to_string(a.dims[d]);
    throw data_error(what + "its dimensions " + dims + " need " +
                     (overflow ? std::string("more value bytes than a computer holds") :
                                 std::to_string(count) + " value bytes") +
                     " after the " + std::to_string(header) + "-byte header, the file has " +
                     std::to_string(available) + "; the file is truncated or not in this format");
  }
  a.values.assign(bytes.begin() + std::ptrdiff_t(header), bytes.end());
  return a;
}

inline idx_array read_idx(const std::filesystem::path& file) {
  return parse_idx(detail::read_bytes(file, "IDX"), file);
}

// Images (N x H x W) and labels (N) as a dataset of 1 x H x W images.
// `classes` 0 means one more than the largest label.
inline dataset idx_dataset(const idx_array& images, const idx_array& labels, const std::filesystem::path& images_file,
                           const std::filesystem::path& labels_file, int classes = 0) {
  const std::string head = "nibble::data: cannot use IDX files " + quoted(images_file) + " and " +
                           quoted(labels_file) + ": ";
  if (images.dims.size() != 3)
    throw data_error(head + "the images have " + std::to_string(images.dims.size()) +
                     " dimensions, expected 3 (images x height x width)");
  if (labels.dims.size() != 1)
    throw data_error(head + "the labels have " + std::to_string(labels.dims.size()) + " dimensions, expected 1");
  if (images.dims[0] != labels.dims[0])
    throw data_error(head + std::to_string(images.dims[0]) + " images but " + std::to_string(labels.dims[0]) +
                     " labels");
  dataset d;
  d.shape = {1, images.dims[1], images.dims[2]};
  int largest = -1;
  for (std::uint8_t l : labels.values) largest = std::max(largest, int(l));
  d.classes = classes > 0 ? classes : largest + 1;
  for (std::size_t i = 0; i < labels.values.size(); ++i)
    if (labels.values[i] >= d.classes)
      throw data_error(head + "label " + std::to_string(labels.values[i]) + " of image " + std::to_string(i) +
                       " is not one of the " + std::to_string(d.classes) + " classes");
  d.labels.assign(labels.values.begin(), labels.values.end());
  d.pixels = images.values;
  return d;
}

inline dataset read_idx_dataset(const std::filesystem::path& images_file, const std::filesystem::path& labels_file,
                                int classes = 0) {
  return idx_dataset(read_idx(images_file), read_idx(labels_file), images_file, labels_file, classes);
}

}  // namespace nibble::data
