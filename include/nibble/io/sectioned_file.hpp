#pragma once
// The layout every nibble file shares (checkpoints, weights and model files):
// versioned, self-checking, little-endian, made of named sections.
//
//   offset  size  field
//   0       8     signature 89 'N' 'I' 'B' 'B' 'L' 'E' 0A (the high byte and
//                 the newline catch 7-bit and text-mode copies)
//   8       4     kind, four ASCII letters ("CKPT": checkpoint)
//   12      4     u32 format version of that kind
//   16      8     u64 size of the whole file in bytes
//   24      ...   sections: 4-letter tag, u64 payload length, payload
//   size−4  4     u32 CRC-32 (zlib's) of every byte before it
//
// Reading checks, in this order, and says which failed: the signature (not
// a nibble file), the size (truncated, or bytes after the end), the checksum
// (damaged after it was written), the kind (a nibble file of another kind),
// the version (written by a newer nibble), then the section table. This
// envelope never changes; versions number the layout of a kind's sections.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nibble/io/byte_order.hpp"
#include "nibble/io/crc32.hpp"
#include "nibble/io/error.hpp"
#include "nibble/io/files.hpp"

namespace nibble::io {

struct file_kind {
  std::string_view tag;   // four ASCII letters in the header
  std::string_view name;  // what messages call it: "checkpoint"
  std::uint32_t version;  // the version written, and the newest one read
};

namespace detail {
inline constexpr std::array<unsigned char, 8> file_signature = {0x89, 'N', 'I', 'B', 'B', 'L', 'E', 0x0A};
inline constexpr std::size_t header_bytes = 24, checksum_bytes = 4;

struct known_kind {
  std::string_view tag, name;
};
// Every kind nibble writes, so a file of one kind offered as another is named.
inline constexpr known_kind known_kinds[] = {{"CKPT", "checkpoint"}, {"MODL", "model file"}, {"WGHT", "weights file"}};

inline std::string tag_string(std::span<const std::byte> b) {
  std::string s;
  for (std::byte c : b) {
    const auto u = static_cast<unsigned char>(c);
    s += (u >= 0x20 && u < 0x7F) ? char(u) : '?';
  }
  return s;
}
}  // namespace detail

class sectioned_file_writer {
 public:
  explicit sectioned_file_writer(const file_kind& kind) {
    out_.raw(std::as_bytes(std::span(detail::file_signature)));
    out_.raw(std::as_bytes(std::span(kind.tag.data(), 4)));
    out_.u32(kind.version);
    out_.u64(0);  // the size, patched by finish()
  }
  void add(std::string_view tag, const byte_writer& payload) {
    out_.raw(std::as_bytes(std::span(tag.data(), 4)));
    out_.u64(payload.size());
    out_.raw(payload.bytes());
  }
  std::vector<std::byte> finish() {
    out_.patch_u64(16, out_.size() + detail::checksum_bytes);
    out_.u32(crc32(out_.bytes()));
    return out_.take();
  }

 private:
  byte_writer out_;
};

class sectioned_file {
 public:
  // `name` introduces every message: "checkpoint 'runs/a/last.ckpt'".
  static sectioned_file parse(std::vector<std::byte> bytes, std::string name, const file_kind& kind) {
    sectioned_file f;
    f.bytes_ = std::move(bytes);
    f.name_ = std::move(name);
    f.check_envelope(kind);
    f.index_sections();
    return f;
  }
  static sectioned_file read(const std::filesystem::path& file, const file_kind& kind) {
    return parse(read_file(file, std::string(kind.name)), std::string(kind.name) + " " + quoted(file), kind);
  }

  const std::string& name() const { return name_; }
  std::uint32_t version() const { return version_; }
  std::size_t size() const { return bytes_.size(); }  // of the whole file
  bool has(std::string_view tag) const { return find(tag) != nullptr; }
  // The bytes of section `tag`, exactly as written.
  std::span<const std::byte> section_bytes(std::string_view tag) const {
    const entry* e = find(tag);
    if (!e) fail("it has no " + std::string(tag) + " section");
    return std::span(bytes_).subspan(e->offset, e->length);
  }
  byte_reader section(std::string_view tag) const {
    return byte_reader(section_bytes(tag), name_ + ", section " + std::string(tag));
  }
  [[noreturn]] void fail(const std::string& why) const { throw io_error(name_ + ": " + why); }

 private:
  struct entry {
    std::string tag;
    std::size_t offset, length;
  };

  void check_envelope(const file_kind& kind) {
    const std::span<const std::byte> all(bytes_);
    const auto signature = std::as_bytes(std::span(detail::file_signature));
    const std::size_t compared = std::min(all.size(), signature.size());
    if (!std::equal(all.begin(), all.begin() + std::ptrdiff_t(compared), signature.begin()))
      fail("it is not a nibble file (it does not start with nibble's signature)");
    const std::size_t smallest = detail::header_bytes + detail::checksum_bytes;
    if (all.size() < smallest)
      fail("it is truncated: it holds " + std::to_string(all.size()) + " bytes, fewer than the " +
           std::to_string(smallest) + " of an empty nibble file");

    byte_reader header(all.first(detail::header_bytes), name_);
    header.raw(8, "signature");
    const std::string tag = detail::tag_string(header.raw(4, "kind"));
    version_ = header.u32("format version");
    const std::uint64_t declared = header.u64("file size");
    const std::uint32_t stored = load_crc(all.last(detail::checksum_bytes));
    const std::uint32_t computed = crc32(all.first(all.size() - detail::checksum_bytes));
    if (declared != all.size() && stored != computed) {
      if (declared > all.size())
        fail("it is truncated: it holds " + std::to_string(all.size()) + " of its " + std::to_string(declared) +
             " bytes (the write or the copy was cut short)");
      fail("it has " + std::to_string(all.size() - declared) + " unexpected bytes after its end (at byte " +
           std::to_string(declared) + ")");
    }
    if (stored != computed || declared != all.size())
      fail("it is damaged: its CRC-32 checksum does not match its contents (stored " + hex(stored) +
           ", computed " + hex(computed) + "); it changed after it was written (a disk or copy error)");
    // The bytes are as written; now ask whether they are what the caller wants.
    if (tag != kind.tag) {
      std::string other = "a nibble file of unknown kind '" + tag + "',";
      for (const auto& k : detail::known_kinds)
        if (k.tag == tag) other = "a nibble " + std::string(k.name) + ",";
      fail("it is " + other + " not a " + std::string(kind.name));
    }
    if (version_ == 0) fail("it is damaged: its format version is 0");
    if (version_ > kind.version)
      fail("it was written by a newer nibble (" + std::string(kind.name) + " format version " +
           std::to_string(version_) + "; this build reads up to version " + std::to_string(kind.version) +
           "); update nibble to read it");
  }

  void index_sections() {
    byte_reader r{std::span<const std::byte>(bytes_).first(bytes_.size() - detail::checksum_bytes),
                  name_ + " (section table)"};
    r.raw(detail::header_bytes, "header");
    while (r.remaining() > 0) {
      std::string tag = detail::tag_string(r.raw(4, "section tag"));
      const std::uint64_t length = r.u64("length of section " + tag);
      const std::size_t offset = r.offset();
      r.raw(std::size_t(std::min<std::uint64_t>(length, r.remaining() + 1)), "section " + tag);
      if (find(tag)) fail("it is damaged: section " + tag + " appears twice");
      sections_.push_back({std::move(tag), offset, std::size_t(length)});
    }
  }

  const entry* find(std::string_view tag) const {
    for (const auto& e : sections_)
      if (e.tag == tag) return &e;
    return nullptr;
  }
  static std::uint32_t load_crc(std::span<const std::byte> b) {
    return std::uint32_t(b[0]) | std::uint32_t(b[1]) << 8 | std::uint32_t(b[2]) << 16 | std::uint32_t(b[3]) << 24;
  }
  static std::string hex(std::uint32_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s = "0x";
    for (int i = 7; i >= 0; --i) s += digits[(v >> (4 * i)) & 0xF];
    return s;
  }

  std::vector<std::byte> bytes_;
  std::string name_;
  std::uint32_t version_ = 0;
  std::vector<entry> sections_;
};

}  // namespace nibble::io
