// The IDX reader: files written here, plain and gzipped, read back exactly;
// every kind of damage is refused with a message that names the file and
// the fault. (The real Fashion-MNIST files are read by the end-to-end test
// of examples/train_fashion_mnist.)
#include <catch2/catch.hpp>

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nibble/data/idx.hpp"
#include "training_fixtures.hpp"

using namespace nibble::data;
namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> idx_file(std::vector<std::uint32_t> dims, const std::vector<std::uint8_t>& values,
                                   std::uint8_t type = 0x08) {
  std::vector<std::uint8_t> out{0, 0, type, std::uint8_t(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) out.push_back(std::uint8_t(d >> shift));
  out.insert(out.end(), values.begin(), values.end());
  return out;
}

// One gzip member, as gzip(1) writes it.
std::vector<std::uint8_t> gzipped(const std::vector<std::uint8_t>& bytes) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<std::uint8_t> out(deflateBound(&z, uLong(bytes.size())) + 32);
  z.next_in = const_cast<Bytef*>(bytes.data());
  z.avail_in = uInt(bytes.size());
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void write_bytes(const fs::path& file, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::vector<std::uint8_t> counting(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::uint8_t(i * 7 % 256);
  return v;
}

}  // namespace

TEST_CASE("IDX files are read exactly, plain or gzipped", "[data][idx]") {
  const auto values = counting(4 * 5 * 3);
  const auto plain = idx_file({4, 5, 3}, values);
  for (const auto& bytes : {plain, gzipped(plain)}) {
    const idx_array a = parse_idx(bytes, "x.idx");
    CHECK(a.dims == std::vector<std::size_t>{4, 5, 3});
    CHECK(a.values == values);
  }
  // gzip allows members one after another; they are one file.
  const auto first = std::vector<std::uint8_t>(plain.begin(), plain.begin() + 20);
  const auto rest = std::vector<std::uint8_t>(plain.begin() + 20, plain.end());
  auto two = gzipped(first);
  const auto second = gzipped(rest);
  two.insert(two.end(), second.begin(), second.end());
  CHECK(parse_idx(two, "x.gz").values == values);
  // Large dimensions: four bytes each, most significant first.
  CHECK(parse_idx(idx_file({70000}, counting(70000)), "big.idx").dims == std::vector<std::size_t>{70000});
}

TEST_CASE("images and labels become a dataset of 1 x H x W images", "[data][idx]") {
  struct folder {
    fs::path path = fixtures::fresh_folder("idx_dataset");
    ~folder() { fs::remove_all(path); }
  } dir;
  const auto pixels = counting(3 * 4 * 2);
  write_bytes(dir.path / "images.gz", gzipped(idx_file({3, 4, 2}, pixels)));
  write_bytes(dir.path / "labels", idx_file({3}, {2, 0, 5}));
  const dataset d = read_idx_dataset(dir.path / "images.gz", dir.path / "labels");
  CHECK(d.shape == image_shape{1, 4, 2});
  CHECK(d.size() == 3);
  CHECK(d.classes == 6);  // one more than the largest label
  CHECK(d.labels == std::vector<std::int32_t>{2, 0, 5});
  CHECK(d.pixels == pixels);
  CHECK(d.norm.empty());  // the caller decides
  CHECK(read_idx_dataset(dir.path / "images.gz", dir.path / "labels", 10).classes == 10);
  CHECK_THROWS_WITH(read_idx_dataset(dir.path / "images.gz", dir.path / "labels", 4),
                    Catch::Contains("label 5 of image 2 is not one of the 4 classes"));

  write_bytes(dir.path / "few_labels", idx_file({2}, {1, 1}));
  CHECK_THROWS_WITH(read_idx_dataset(dir.path / "images.gz", dir.path / "few_labels"),
                    Catch::Contains("few_labels") && Catch::Contains("3 images but 2 labels"));
  write_bytes(dir.path / "flat", idx_file({3, 8}, counting(24)));
  CHECK_THROWS_WITH(read_idx_dataset(dir.path / "flat", dir.path / "labels"),
                    Catch::Contains("the images have 2 dimensions, expected 3"));
  CHECK_THROWS_WITH(read_idx_dataset(dir.path / "images.gz", dir.path / "images.gz"),
                    Catch::Contains("the labels have 3 dimensions, expected 1"));
  CHECK_THROWS_WITH(read_idx(dir.path / "missing.gz"), Catch::Contains("missing.gz") && Catch::Contains("does not exist"));
}

TEST_CASE("damaged IDX files are refused, saying what is wrong", "[data][idx]") {
  const auto good = idx_file({2, 3}, counting(6));
  auto refused = [](const std::vector<std::uint8_t>& bytes, const std::string& words) {
    CHECK_THROWS_WITH(parse_idx(bytes, "bad.idx"), Catch::Contains("bad.idx") && Catch::Contains(words));
  };
  refused({0, 0, 8}, "fewer than the 4 of the magic number");
  refused({1, 0, 8, 1, 0, 0, 0, 0}, "does not start with an IDX magic number");
  refused(idx_file({2}, {0, 0, 0, 0, 0, 0, 0, 0}, 0x0d), "IDX type 0x0d; only unsigned bytes (0x08)");
  refused(idx_file({}, {}), "declares 0 dimensions");
  refused({0, 0, 8, 3, 0, 0, 0, 2}, "ends inside its header (3 dimensions need 16 bytes");
  refused(std::vector<std::uint8_t>(good.begin(), good.end() - 1), "dimensions 2 x 3 need 6 value bytes");
  auto longer = good;
  longer.push_back(9);
  refused(longer, "need 6 value bytes after the 12-byte header, the file has 7");
  // Dimensions whose product overflows 64 bits are caught, not wrapped.
  refused(idx_file({0xffffffffu, 0xffffffffu, 0xffffffffu}, counting(6)), "need more value bytes than a computer holds");

  const auto gz = gzipped(good);
  refused(std::vector<std::uint8_t>(gz.begin(), gz.end() - 10), "ends early (the file is truncated)");
  auto corrupt = gz;
  corrupt[12] ^= 0xff;
  CHECK_THROWS_AS(parse_idx(corrupt, "bad.idx"), data_error);
  refused({0x1f, 0x8b, 0, 0, 0, 0}, "gzip");
}

TEST_CASE("gunzip refuses output beyond its limit", "[data][idx]") {
  const auto zeros = gzipped(std::vector<std::uint8_t>(1 << 20, 0));  // 1 MiB in about a kilobyte
  CHECK(gunzip(zeros, "z: ").size() == std::size_t(1) << 20);
  CHECK_THROWS_WITH(gunzip(zeros, "z: ", 100000), Catch::Contains("z: it decompresses to more than 100000 bytes"));
}
