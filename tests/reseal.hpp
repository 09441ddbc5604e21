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

}  // namespace fixtures
