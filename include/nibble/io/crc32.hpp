#pragma once
// CRC-32 as zlib, gzip and PNG compute it (reflected polynomial 0xEDB88320),
// so a file can be checked outside nibble with Python's zlib.crc32. Slicing
// by 8: eight table lookups per 8 input bytes, about 1–2 GB/s, so a 40 MB
// checkpoint costs a few tens of milliseconds.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace nibble::io {

namespace detail {
using crc32_table_set = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr crc32_table_set make_crc32_tables() {
  crc32_table_set t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t s = 1; s < 8; ++s)
    for (std::size_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
  return t;
}
inline constexpr crc32_table_set crc32_tables = make_crc32_tables();

inline std::uint32_t load_le32(const unsigned char* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
}
}  // namespace detail

// CRC of `data`; pass an earlier result as `crc` to continue over more bytes.
inline std::uint32_t crc32(std::span<const std::byte> data, std::uint32_t crc = 0) {
  const auto& t = detail::crc32_tables;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size();
  crc = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    const std::uint32_t a = detail::load_le32(p) ^ crc, b = detail::load_le32(p + 4);
    crc = t[7][a & 0xFF] ^ t[6][(a >> 8) & 0xFF] ^ t[5][(a >> 16) & 0xFF] ^ t[4][a >> 24] ^ t[3][b & 0xFF] ^
          t[2][(b >> 8) & 0xFF] ^ t[1][(b >> 16) & 0xFF] ^ t[0][b >> 24];
  }
  for (; n > 0; --n, ++p) crc = t[0][(crc ^ *p) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

}  // namespace nibble::io
