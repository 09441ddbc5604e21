// The pieces every nibble file is built from: CRC-32, little-endian values,
// bounds-checked reads, atomic writes, and output folders checked up front.
#include <catch2/catch.hpp>

#include <string>

#include "nibble/io/byte_order.hpp"
#include "nibble/io/crc32.hpp"
#include "nibble/io/files.hpp"
#include "nibble/io/sectioned_file.hpp"
#include "training_fixtures.hpp"

using namespace nibble::io;
namespace fs = std::filesystem;

namespace {
std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
}  // namespace

TEST_CASE("crc32 is zlib's CRC-32", "[io]") {
  CHECK(crc32(bytes_of("")) == 0u);
  CHECK(crc32(bytes_of("123456789")) == 0xCBF43926u);  // the standard check value
  CHECK(crc32(bytes_of("The quick brown fox jumps over the lazy dog")) == 0x414FA339u);
  const std::string text = "a longer text that is split at an odd place to test continuation";
  CHECK(crc32(bytes_of(text.substr(13)), crc32(bytes_of(text.substr(0, 13)))) == crc32(bytes_of(text)));
}

TEST_CASE("byte_writer writes little-endian values and byte_reader reads them back", "[io]") {
  byte_writer w;
  w.u32(0x01020304u);
  w.u64(0x1122334455667788ull);
  w.f32(1.0f);
  w.text("hi");
  const float values[] = {-2.5f, 0.0f};
  w.floats(values);
  const auto& b = w.bytes();
  REQUIRE(b.size() == 4 + 8 + 4 + 8 + 2 + 8 + 8);
  CHECK(std::uint8_t(b[0]) == 0x04);
  CHECK(std::uint8_t(b[3]) == 0x01);
  CHECK(std::uint8_t(b[4]) == 0x88);
  CHECK(std::uint8_t(b[15]) == 0x3f);  // 1.0f = 0x3f800000

  byte_reader r(b, "test bytes");
  CHECK(r.u32("a") == 0x01020304u);
  CHECK(r.u64("b") == 0x1122334455667788ull);
  CHECK(r.f32("c") == 1.0f);
  CHECK(r.text("d", 10) == "hi");
  float back[2] = {};
  r.floats(back, "e");
  CHECK(back[0] == -2.5f);
  CHECK(back[1] == 0.0f);
  r.expect_end();
  CHECK_THROWS_WITH(r.u32("the next field"), Catch::Contains("test bytes: it ends early: the next field needs 4 "
                                                             "bytes at offset 42, but only 0 remain"));
}

// Found by fuzz_model_reader: an empty array read into an empty span (whose data() is null) passed a
// null pointer to memcpy, which the sanitizer build reports as undefined behaviour.
TEST_CASE("byte_reader reads an empty float array into a span with no storage", "[io]") {
  byte_writer w;
  w.floats(std::span<const float>{});
  w.u32(7);
  byte_reader r(w.bytes(), "x");
  r.floats(std::span<float>{}, "nothing");
  CHECK(r.u32("after") == 7u);
  r.expect_end();
}

TEST_CASE("byte_reader refuses counts and lengths that do not fit", "[io]") {
  byte_writer w;
  w.u64(1000);
  byte_reader r(w.bytes(), "x");
  CHECK_THROWS_WITH(r.text("name", 100), Catch::Contains("its name length is 1000, more than the largest valid 100"));
  const float three[] = {1, 2, 3};
  byte_writer f;
  f.floats(three);
  byte_reader fr(f.bytes(), "x");
  float two[2];
  CHECK_THROWS_WITH(fr.floats(two, "weights"), Catch::Contains("holds 3 values for weights where 2 are expected"));
}

TEST_CASE("write_file_atomically replaces a file whole and leaves no temporary file", "[io]") {
  const fs::path dir = fixtures::fresh_folder("atomic");
  write_file_atomically(dir / "f", bytes_of("first"), "test file");
  write_file_atomically(dir / "f", bytes_of("second"), "test file");
  CHECK(fixtures::file_text(dir / "f") == "second");
  CHECK_FALSE(fs::exists(temporary_path(dir / "f")));
  CHECK(read_file(dir / "f", "test file").size() == 6);
  CHECK_THROWS_WITH(write_file_atomically(dir / "missing" / "f", bytes_of("x"), "test file"),
                    Catch::Contains("cannot write test file") && Catch::Contains("No such file or directory"));
  CHECK_THROWS_WITH(read_file(dir / "nothing", "test file"),
                    Catch::Contains("cannot read test file") && Catch::Contains("No such file or directory"));
  fs::remove_all(dir);
}

TEST_CASE("ensure_writable_folder creates folders and refuses what is not one", "[io]") {
  const fs::path dir = fixtures::fresh_folder("writable");
  ensure_writable_folder(dir / "a" / "b", "output folder");
  CHECK(fs::is_directory(dir / "a" / "b"));
  CHECK(fs::is_empty(dir / "a" / "b"));  // the probe file is gone
  fixtures::write_text(dir / "file", "x");
  CHECK_THROWS_WITH(ensure_writable_folder(dir / "file", "output folder"),
                    Catch::Contains("cannot use output folder") && Catch::Contains("file"));
  fs::remove_all(dir);
}

TEST_CASE("a sectioned file keeps its sections and names a missing one", "[io]") {
  sectioned_file_writer w({"TEST", "test file", 3});
  byte_writer a, b;
  a.text("alpha");
  b.u32(7);
  w.add("AAAA", a);
  w.add("BBBB", b);
  const sectioned_file f = sectioned_file::parse(w.finish(), "test file 'x'", {"TEST", "test file", 3});
  CHECK(f.version() == 3);
  CHECK(f.section("AAAA").text("a", 10) == "alpha");
  CHECK(f.section("BBBB").u32("b") == 7u);
  CHECK_FALSE(f.has("CCCC"));
  CHECK_THROWS_WITH(f.section("CCCC"), Catch::Contains("test file 'x': it has no CCCC section"));
}
