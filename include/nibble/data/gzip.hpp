#pragma once
// gzip decompression with zlib, for data sets distributed as .gz files
// (Fashion-MNIST, MNIST). Refuses damaged streams and, so that a small
// hostile file cannot exhaust memory, output beyond a limit.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <zlib.h>

#include "nibble/data/dataset.hpp"

namespace nibble::data {

inline bool is_gzip(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

// The decompressed bytes of every gzip member in `bytes`; `what` starts
// messages ("cannot read IDX file 'x.gz': ").
inline std::vector<std::uint8_t> gunzip(std::span<const std::uint8_t> bytes, const std::string& what,
                                        std::size_t limit = std::size_t{1} << 31) {
  std::vector<std::uint8_t> out;
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) throw data_error(what + "zlib could not start");  // 15 + 16: gzip only
  struct closer {
    z_stream& z;
    ~closer() { inflateEnd(&z); }
  } close{z};
  z.next_in = const_cast<Bytef*>(bytes.data());  // zlib's API is not const-correct; it only reads
  std::size_t fed = 0;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    // zlib counts in 32-bit units: feed at most 1 GiB at a time.
    if (z.avail_in == 0 && fed < bytes.size()) {
      z.avail_in = uInt(std::min<std::size_t>(bytes.size() - fed, std::size_t{1} << 30));
      fed += z.avail_in;
    }
    z.next_out = chunk;
    z.avail_out = sizeof chunk;
    const int status = inflate(&z, Z_NO_FLUSH);
    const std::size_t produced = sizeof chunk - z.avail_out;
    if (out.size() + produced > limit)
      throw data_error(what + "it decompresses to more than " + std::to_string(limit) + " bytes");
    out.insert(out.end(), chunk, chunk + produced);
    if (status == Z_STREAM_END) {
      if (z.avail_in == 0 && fed == bytes.size()) return out;
      if (inflateReset(&z) != Z_OK) throw data_error(what + "zlib could not start the next gzip member");
      continue;  // another member follows (gzip allows concatenation)
    }
    if (status == Z_BUF_ERROR && z.avail_in == 0 && fed == bytes.size())
      throw data_error(what + "the gzip stream ends early (the file is truncated)");
    if (status != Z_OK && status != Z_BUF_ERROR)
      throw data_error(what + "it is not valid gzip data (" + (z.msg ? std::string(z.msg) : "zlib error " +
                                                                                               std::to_string(status)) +
                       ")");
  }
}

}  // namespace nibble::data
