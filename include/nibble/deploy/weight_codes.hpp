#pragma once
// The weights of a deployed layer as they are stored, in memory and on disk.
//
//   bits<N>, N <= 4   signed codes, two per byte: element 2i in the low
//                     nibble, 2i+1 in the high one (two's complement)
//   bits<N>, N > 4    one signed byte per code
//   full_precision    float values
//
// Codes lie in −qmax … qmax (15 levels for 4 bits); the one pattern outside
// (−8 for 4 bits, −128 for 8) never occurs, and a file holding it is refused.
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <type_traits>
#include <string>
#include <vector>

#include "nibble/quant/concepts.hpp"

namespace nibble::deploy {

// How the codes of one tensor are stored; model files record it per tensor.
enum class code_format : std::uint8_t { int4_pairs = 1, int8 = 2, float32 = 3 };

inline std::string describe(code_format f) {
  switch (f) {
    case code_format::int4_pairs: return "4-bit codes, two per byte";
    case code_format::int8: return "8-bit codes";
    case code_format::float32: return "32-bit floats";
  }
  return "unknown format " + std::to_string(int(f));
}

namespace detail {
// Both codes of a byte as floats, for every byte value: decoding a 4-bit
// tensor is one table lookup per pair.
inline const std::array<std::array<float, 2>, 256>& nibble_pair_table() {
  static const auto table = [] {
    std::array<std::array<float, 2>, 256> t{};
    for (int b = 0; b < 256; ++b) {
      t[b][0] = float(std::int8_t(std::uint8_t(b << 4)) >> 4);
      t[b][1] = float(std::int8_t(std::uint8_t(b)) >> 4);
    }
    return t;
  }();
  return table;
}
}  // namespace detail

template <bit_width_policy Bits>
class weight_codes {
  static_assert(Bits::uniform,
                "nibble::deploy: power-of-two weights cannot be deployed yet (their codes, up to 2^(2^(N-1)-2), need a "
                "code store of their own); evaluate the trained network instead.");
 public:
  static constexpr code_format format = !Bits::quantized    ? code_format::float32
                                        : Bits::width <= 4 ? code_format::int4_pairs
                                                           : code_format::int8;
  static constexpr bool quantized = Bits::quantized;

  weight_codes() = default;
  explicit weight_codes(std::size_t count) : count_(count), storage_(storage_size(count)) {}

  // Bytes (quantized) or floats (full precision) that `count` elements take.
  static constexpr std::size_t storage_size(std::size_t count) {
    return format == code_format::int4_pairs ? (count + 1) / 2 : count;
  }
  static constexpr std::size_t byte_count(std::size_t count) {
    return storage_size(count) * (quantized ? 1 : sizeof(float));
  }

  std::size_t size() const { return count_; }
  // The stored elements: std::byte for codes, float for full precision.
  auto& storage() { return storage_; }
  const auto& storage() const { return storage_; }

  void set_code(std::size_t i, int code) {
    static_assert(quantized, "nibble::deploy::weight_codes: float weights have no codes.");
    const auto u = std::uint8_t(code);
    if constexpr (format == code_format::int4_pairs) {
      const auto b = std::uint8_t(storage_[i / 2]);
      storage_[i / 2] = std::byte(i % 2 == 0 ? (b & 0xF0) | (u & 0x0F) : (b & 0x0F) | (u << 4));
    } else {
      storage_[i] = std::byte(u);
    }
  }
  int code(std::size_t i) const {
    static_assert(quantized, "nibble::deploy::weight_codes: float weights have no codes.");
    if constexpr (format == code_format::int4_pairs) {
      const auto b = std::uint8_t(storage_[i / 2]);
      return i % 2 == 0 ? std::int8_t(std::uint8_t(b << 4)) >> 4 : std::int8_t(b) >> 4;
    } else {
      return std::int8_t(storage_[i]);
    }
  }
  void set_value(std::size_t i, float v) {
    static_assert(!quantized, "nibble::deploy::weight_codes: quantized weights are set as codes.");
    storage_[i] = v;
  }

  // out[i] = code i as a float (or the float weight itself).
  void decode(float* out) const {
    if constexpr (format == code_format::int4_pairs) {
      const auto& table = detail::nibble_pair_table();
      const std::size_t pairs = count_ / 2;
      for (std::size_t p = 0; p < pairs; ++p) {
        const auto& two = table[std::uint8_t(storage_[p])];
        out[2 * p] = two[0];
        out[2 * p + 1] = two[1];
      }
      if (count_ % 2) out[count_ - 1] = table[std::uint8_t(storage_[pairs])][0];
    } else if constexpr (format == code_format::int8) {
      for (std::size_t i = 0; i < count_; ++i) out[i] = float(std::int8_t(storage_[i]));
    } else {
      std::copy(storage_.begin(), storage_.end(), out);
    }
  }

  // Empty when every element is valid, else what is wrong, in words: for
  // elements read from a file, whose checksum cannot tell a forged code.
  std::string fault() const {
    for (std::size_t i = 0; i < count_; ++i) {
      if constexpr (quantized) {
        const int c = code(i);
        if (c < -Bits::qmax || c > Bits::qmax)
          return "code " + std::to_string(c) + " at element " + std::to_string(i) + " lies outside the " +
                 std::to_string(Bits::levels) + " levels of " + Bits::describe() + " weights";
      } else {
        if (!std::isfinite(storage_[i])) return "weight " + std::to_string(i) + " is not a finite number";
      }
    }
    if constexpr (format == code_format::int4_pairs)
      if (count_ % 2 && (std::uint8_t(storage_.back()) >> 4) != 0) return "the unused last half-byte is not zero";
    return {};
  }

 private:
  std::size_t count_ = 0;
  std::conditional_t<quantized, std::vector<std::byte>, std::vector<float>> storage_;
};

}  // namespace nibble::deploy
