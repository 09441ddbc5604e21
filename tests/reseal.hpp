#pragma once
// Tests and fuzzers forge nibble files: after changing bytes inside a
// section they rewrite the size field and the CRC-32, so that the file
// passes the envelope check and the section parsers see the change.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "nibble/io/crc32.hpp"

namespace fixtures {

inline void reseal(std::vector<std::byte>& b) {
  if (b.size() < 28) return;  // shorter than the header and the checksum
  const std::uint64_t size = b.size();
  for (int i = 0; i < 8; ++i) b[16 + std::size_t(i)] = std::byte(std::uint8_t(size >> (8 * i)));
  const std::uint32_t crc = nibble::io::crc32(std::span(b).first(b.size() - 4));
  for (int i = 0; i < 4; ++i) b[b.size() - 4 + std::size_t(i)] = std::byte(std::uint8_t(crc >> (8 * i)));
}

// The file a fuzz input stands for, chosen by its first byte:
//   0  the rest of the input is the file;
//   1  the rest of the input, resealed, so the section parsers see it;
//   2  `valid` with edits (pairs of offset, then a byte) from the input,
//      resealed: damaged real structures, which reach the deepest code.
inline std::vector<std::byte> fuzzed_file(const std::uint8_t* data, std::size_t size,
                                          const std::vector<std::byte>& valid) {
  const auto* input = reinterpret_cast<const std::byte*>(data + 1);
  std::vector<std::byte> file;
  if (data[0] % 3 != 2) {
    file.assign(input, input + size - 1);
  } else {
    file = valid;
    for (std::size_t i = 0; i + 2 < size - 1; i += 3) {
      const std::size_t at = (std::size_t(data[1 + i]) << 8 | std::size_t(data[2 + i])) % file.size();
      file[at] = std::byte(data[3 + i]);
    }
  }
  if (data[0] % 3 != 0) reseal(file);
  return file;
}

}  // namespace fixtures
