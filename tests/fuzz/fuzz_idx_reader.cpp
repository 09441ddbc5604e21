// libFuzzer target: the IDX parser (and the gzip layer under it) on
// arbitrary file contents. Refusing with data_error is the only acceptable
// failure; a crash, a sanitizer report, any other exception or an accepted
// file whose values do not match its dimensions is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "nibble/data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nibble::data::idx_array a;
  try {
    a = nibble::data::parse_idx(std::span<const std::uint8_t>(data, size), "fuzz.idx");
  } catch (const nibble::data::data_error&) {
    return 0;
  }
  std::size_t count = 1;
  for (std::size_t n : a.dims) count *= n;
  if (a.dims.empty() || a.values.size() != count) std::abort();
  return 0;
}
