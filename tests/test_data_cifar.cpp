// CIFAR readers against small files written here, never the real datasets.
#include <catch2/catch.hpp>

#include <nibble/data/cifar.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace nibble::data;
using Catch::Matchers::Contains;

namespace {

// A fresh directory under the system temp folder, removed on scope exit.
struct temp_folder {
  fs::path path;
  temp_folder() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("nibble_cifar_test_" + std::to_string(rd()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~temp_folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_folder(const temp_folder&) = delete;
  temp_folder& operator=(const temp_folder&) = delete;
};

// Pixel byte p of image `id`: distinct per image and position, so a mixed-up
// record or a misaligned read shows up.
std::uint8_t pixel_value(int id, std::size_t p) { return static_cast<std::uint8_t>(id * 31 + p * 7 + p / 1024); }

void write_bytes(const fs::path& file, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// One record: the given label bytes then the 3072 pixels of image `id`.
void append_record(std::vector<std::uint8_t>& bytes, std::vector<std::uint8_t> label_bytes, int id) {
  bytes.insert(bytes.end(), label_bytes.begin(), label_bytes.end());
  for (std::size_t p = 0; p < cifar_image_bytes; ++p) bytes.push_back(pixel_value(id, p));
}

bool image_matches(const dataset& d, std::size_t i, int id) {
  const std::uint8_t* img = d.image(i);
  for (std::size_t p = 0; p < cifar_image_bytes; ++p)
    if (img[p] != pixel_value(id, p)) return false;
  return true;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const data_error& e) {
    return e.what();
  }
  return "(no data_error thrown)";
}

}  // namespace

TEST_CASE("read_cifar10 round-trips the train files in order and the test file", "[data][cifar]") {
  temp_folder dir;
  // Train file k (1..5) holds k records; image ids count up across files.
  int id = 0;
  std::vector<std::int32_t> train_labels;
  for (int k = 1; k <= 5; ++k) {
    std::vector<std::uint8_t> bytes;
    for (int r = 0; r < k; ++r, ++id) {
      train_labels.push_back(id % 10);
      append_record(bytes, {static_cast<std::uint8_t>(id % 10)}, id);
    }
    write_bytes(dir.path / ("data_batch_" + std::to_string(k) + ".bin"), bytes);
  }
  std::vector<std::uint8_t> test_bytes;
  append_record(test_bytes, {9}, 100);
  append_record(test_bytes, {0}, 101);
  write_bytes(dir.path / "test_batch.bin", test_bytes);

  const dataset train = read_cifar10(dir.path, split::train);
  REQUIRE(train.size() == 15);
  CHECK(train.classes == 10);
  CHECK(train.pixels.size() == 15 * cifar_image_bytes);
  CHECK(train.labels == train_labels);
  for (std::size_t i = 0; i < train.size(); ++i) CHECK(image_matches(train, i, static_cast<int>(i)));

  const dataset test = read_cifar10(dir.path, split::test);
  REQUIRE(test.size() == 2);
  CHECK(test.classes == 10);
  CHECK(test.labels == std::vector<std::int32_t>{9, 0});
  CHECK(image_matches(test, 0, 100));
  CHECK(image_matches(test, 1, 101));
}

TEST_CASE("read_cifar100 keeps the fine or the coarse label", "[data][cifar]") {
  temp_folder dir;
  std::vector<std::uint8_t> train_bytes, test_bytes;
  append_record(train_bytes, {19, 99}, 0);  // coarse, fine
  append_record(train_bytes, {0, 0}, 1);
  append_record(train_bytes, {7, 42}, 2);
  append_record(test_bytes, {3, 55}, 3);
  write_bytes(dir.path / "train.bin", train_bytes);
  write_bytes(dir.path / "test.bin", test_bytes);

  const dataset fine = read_cifar100(dir.path, split::train);
  CHECK(fine.classes == 100);
  CHECK(fine.labels == std::vector<std::int32_t>{99, 0, 42});
  for (std::size_t i = 0; i < 3; ++i) CHECK(image_matches(fine, i, static_cast<int>(i)));

  const dataset coarse = read_cifar100(dir.path, split::train, cifar100_labels::coarse);
  CHECK(coarse.classes == 20);
  CHECK(coarse.labels == std::vector<std::int32_t>{19, 0, 7});
  CHECK(coarse.pixels == fine.pixels);

  const dataset test = read_cifar100(dir.path, split::test, cifar100_labels::fine);
  REQUIRE(test.size() == 1);
  CHECK(test.labels[0] == 55);
  CHECK(image_matches(test, 0, 3));
}

TEST_CASE("missing folder or file is reported with the file path", "[data][cifar]") {
  temp_folder dir;
  const fs::path nowhere = dir.path / "no_such_folder";
  const std::string folder_msg = message_of([&] { read_cifar10(nowhere, split::train); });
  CHECK_THAT(folder_msg, Contains((nowhere / "data_batch_1.bin").string()) && Contains("does not exist"));

  // Folder present, but data_batch_3.bin missing: the first two files read fine.
  std::vector<std::uint8_t> bytes;
  append_record(bytes, {1}, 0);
  write_bytes(dir.path / "data_batch_1.bin", bytes);
  write_bytes(dir.path / "data_batch_2.bin", bytes);
  const std::string file_msg = message_of([&] { read_cifar10(dir.path, split::train); });
  CHECK_THAT(file_msg, Contains((dir.path / "data_batch_3.bin").string()) && Contains("does not exist"));

  REQUIRE_THROWS_WITH(read_cifar10(dir.path, split::test), Contains("test_batch.bin"));
  REQUIRE_THROWS_WITH(read_cifar100(dir.path, split::train), Contains("train.bin"));
  REQUIRE_THROWS_AS(read_cifar100(dir.path, split::test), data_error);
}

TEST_CASE("truncated and empty files are rejected with sizes", "[data][cifar]") {
  temp_folder dir;
  std::vector<std::uint8_t> bytes;
  append_record(bytes, {1}, 0);
  append_record(bytes, {2}, 1);
  bytes.erase(bytes.end() - 100, bytes.end());  // 6046 bytes: one record and a partial one
  write_bytes(dir.path / "test_batch.bin", bytes);
  const std::string msg = message_of([&] { read_cifar10(dir.path, split::test); });
  CHECK_THAT(msg, Contains((dir.path / "test_batch.bin").string()) && Contains("3073") && Contains("6046") &&
                      Contains("truncated"));

  std::vector<std::uint8_t> bytes100;
  append_record(bytes100, {1, 1}, 0);
  bytes100.pop_back();
  write_bytes(dir.path / "test.bin", bytes100);
  CHECK_THAT(message_of([&] { read_cifar100(dir.path, split::test); }),
             Contains("test.bin") && Contains("3074") && Contains("3073 bytes"));

  write_bytes(dir.path / "train.bin", {});
  CHECK_THAT(message_of([&] { read_cifar100(dir.path, split::train); }),
             Contains((dir.path / "train.bin").string()) && Contains("empty") && Contains("0 bytes"));
}

TEST_CASE("out-of-range labels name the file, record and value", "[data][cifar]") {
  temp_folder dir;
  std::vector<std::uint8_t> bytes;
  append_record(bytes, {9}, 0);
  append_record(bytes, {0}, 1);
  append_record(bytes, {10}, 2);
  write_bytes(dir.path / "test_batch.bin", bytes);
  CHECK_THAT(message_of([&] { read_cifar10(dir.path, split::test); }),
             Contains((dir.path / "test_batch.bin").string()) && Contains("record 2") && Contains("label 10"));

  std::vector<std::uint8_t> fine_bad;
  append_record(fine_bad, {0, 0}, 0);
  append_record(fine_bad, {5, 100}, 1);
  write_bytes(dir.path / "train.bin", fine_bad);
  CHECK_THAT(message_of([&] { read_cifar100(dir.path, split::train); }),
             Contains("train.bin") && Contains("record 1") && Contains("fine label 100"));

  // The unused label is validated too: a bad coarse byte fails a fine read.
  std::vector<std::uint8_t> coarse_bad;
  append_record(coarse_bad, {20, 3}, 0);
  write_bytes(dir.path / "test.bin", coarse_bad);
  CHECK_THAT(message_of([&] { read_cifar100(dir.path, split::test, cifar100_labels::fine); }),
             Contains("test.bin") && Contains("record 0") && Contains("coarse label 20"));
  CHECK_THAT(message_of([&] { read_cifar100(dir.path, split::test, cifar100_labels::coarse); }),
             Contains("coarse label 20"));
}
