#pragma once
// Little-endian encoding for the values in nibble's files, whatever the
// host's byte order: integers byte by byte, floats as their IEEE-754 bit
// patterns. byte_reader checks every read against the end of its bytes, so a
// short or inconsistent file is reported by name and field, never read past.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nibble/io/error.hpp"

namespace nibble::io {

class byte_writer {
 public:
  void u8(std::uint8_t v) { bytes_.push_back(std::byte{v}); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void f32(float v) { u32(std::bit_cast<std::uint32_t>(v)); }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  void raw(std::span<const std::byte> b) {
    if (b.empty()) return;
    const std::size_t at = bytes_.size();
    bytes_.resize(at + b.size());  // not insert(), which trips a false -Wstringop-overflow in GCC 12
    std::memcpy(bytes_.data() + at, b.data(), b.size());
  }
  // A string: its length (u64), then its bytes.
  void text(std::string_view s) {
    u64(s.size());
    raw(std::as_bytes(std::span(s.data(), s.size())));
  }
  // An array of floats: its length (u64), then each value.
  void floats(std::span<const float> v) {
    u64(v.size());
    if constexpr (std::endian::native == std::endian::little) {
      raw(std::as_bytes(v));
    } else {
      for (float f : v) f32(f);
    }
  }
  // Overwrites the u64 written at `offset` (a length known only later).
  void patch_u64(std::size_t offset, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes_[offset + std::size_t(i)] = std::byte(std::uint8_t(v >> (8 * i)));
  }

  std::size_t size() const { return bytes_.size(); }
  const std::vector<std::byte>& bytes() const { return bytes_; }
  std::vector<std::byte> take() { return std::move(bytes_); }

 private:
  void put(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(std::byte(std::uint8_t(v >> (8 * i))));
  }
  std::vector<std::byte> bytes_;
};

class byte_reader {
 public:
  // `what` names the bytes in messages, e.g. "checkpoint 'a.ckpt', section PARM".
  byte_reader(std::span<const std::byte> bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}

  std::uint8_t u8(std::string_view field) { return std::uint8_t(*take(1, field)); }
  std::uint32_t u32(std::string_view field) { return std::uint32_t(get(4, field)); }
  std::uint64_t u64(std::string_view field) { return get(8, field); }
  float f32(std::string_view field) { return std::bit_cast<float>(u32(field)); }
  double f64(std::string_view field) { return std::bit_cast<double>(u64(field)); }

  // A u64 count that must not exceed `limit` (so a damaged count cannot
  // make the reader allocate gigabytes).
  std::uint64_t count(std::string_view field, std::uint64_t limit) {
    const std::uint64_t n = u64(field);
    if (n > limit) fail("its " + std::string(field) + " is " + std::to_string(n) + ", more than the largest valid " +
                        std::to_string(limit));
    return n;
  }
  std::string text(std::string_view field, std::size_t max_length) {
    const std::size_t n = std::size_t(count(std::string(field) + " length", max_length));
    const std::byte* p = take(n, field);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  // An array of floats whose length must equal out.size().
  void floats(std::span<float> out, std::string_view field) {
    const std::uint64_t n = u64(std::string(field) + " length");
    if (n != out.size())
      fail("it holds " + std::to_string(n) + " values for " + std::string(field) + " where " +
           std::to_string(out.size()) + " are expected");
    const std::byte* p = take(n * sizeof(float), field);
    if (n == 0) return;  // out.data() may be null, and memcpy must not see a null pointer
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(out.data(), p, n * sizeof(float));
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t v = 0;
        for (int b = 0; b < 4; ++b) v |= std::uint32_t(p[4 * i + std::size_t(b)]) << (8 * b);
        out[i] = std::bit_cast<float>(v);
      }
    }
  }
  std::span<const std::byte> raw(std::size_t n, std::string_view field) { return {take(n, field), n}; }

  std::size_t offset() const { return pos_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }
  void expect_end() const {
    if (remaining() != 0) fail("it has " + std::to_string(remaining()) + " unexpected bytes after its last field");
  }
  [[noreturn]] void fail(const std::string& why) const { throw io_error(what_ + ": " + why); }

 private:
  const std::byte* take(std::uint64_t n, std::string_view field) {
    if (n > remaining())
      fail("it ends early: " + std::string(field) + " needs " + std::to_string(n) + " bytes at offset " +
           std::to_string(pos_) + ", but only " + std::to_string(remaining()) + " remain");
    const std::byte* p = bytes_.data() + pos_;
    pos_ += std::size_t(n);
    return p;
  }
  std::uint64_t get(int n, std::string_view field) {
    const std::byte* p = take(std::uint64_t(n), field);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t(p[i]) << (8 * i);
    return v;
  }

  std::span<const std::byte> bytes_;
  std::string what_;
  std::size_t pos_ = 0;
};

}  // namespace nibble::io
