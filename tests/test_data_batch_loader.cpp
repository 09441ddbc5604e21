// Background batch preparation: coverage, reproducibility, sizes, shutdown.
#include <catch2/catch.hpp>

#include <nibble/data/batch_loader.hpp>
#include <nibble/data/cifar.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <set>
#include <stdexcept>
#include <vector>

using namespace nibble::data;

namespace {

// Image i is flat: channel 0 holds i % 256 and channel 1 holds i / 256, so
// the index survives crops and flips and can be read back from any batch.
dataset indexed_dataset(std::size_t n) {
  dataset d;
  d.classes = 7;
  d.shape = cifar_image;
  d.norm = cifar_normalisation();
  d.pixels.resize(n * cifar_image_bytes);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint8_t* img = d.pixels.data() + i * cifar_image_bytes;
    std::fill(img, img + 1024, static_cast<std::uint8_t>(i % 256));
    std::fill(img + 1024, img + 2048, static_cast<std::uint8_t>(i / 256));
    std::fill(img + 2048, img + 3072, static_cast<std::uint8_t>(90));
    d.labels.push_back(static_cast<std::int32_t>(i % 7));
  }
  return d;
}

int byte_of(float f, int c) {
  const normalisation n = cifar_normalisation();
  return static_cast<int>(std::lround((f * n.std[c] + n.mean[c]) * 255.0f));
}

// Reads image k's index from its centre pixel, which no pad-4 crop can lose.
std::size_t index_of(const batch& b, std::size_t k) {
  const float lo = b.images(k, 0, 16, 16), hi = b.images(k, 1, 16, 16);
  return static_cast<std::size_t>(byte_of(lo, 0) + 256 * byte_of(hi, 1));
}

// All image indices of one epoch, in delivery order, with labels cross-checked.
std::vector<std::size_t> epoch_order(batch_loader& loader, std::uint64_t epoch, const dataset& d) {
  loader.start_epoch(epoch);
  std::vector<std::size_t> order;
  batch b;
  while (loader.next(b))
    for (std::size_t k = 0; k < b.size(); ++k) {
      order.push_back(index_of(b, k));
      REQUIRE(b.labels[k] == d.labels[order.back()]);
    }
  return order;
}

std::vector<batch> epoch_batches(batch_loader& loader, std::uint64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<batch> all;
  batch b;
  while (loader.next(b)) all.push_back(b);
  return all;
}

}  // namespace

TEST_CASE("every image appears exactly once per shuffled, augmented epoch", "[data][loader]") {
  const dataset d = indexed_dataset(1000);
  batch_loader loader(d, {.batch_size = 64, .seed = 3});
  for (std::uint64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<std::size_t> order = epoch_order(loader, epoch, d);
    REQUIRE(order.size() == d.size());
    CHECK_FALSE(std::is_sorted(order.begin(), order.end()));
    std::sort(order.begin(), order.end());
    std::vector<std::size_t> all(d.size());
    std::iota(all.begin(), all.end(), std::size_t{0});
    REQUIRE(order == all);
  }
}

TEST_CASE("batch sizes, the last partial batch and drop_last", "[data][loader]") {
  const dataset d = indexed_dataset(1000);  // 15 * 64 + 40
  for (bool drop_last : {false, true}) {
    batch_loader loader(d, {.batch_size = 64, .drop_last = drop_last});
    const std::size_t expected_batches = drop_last ? 15 : 16;
    REQUIRE(loader.batches_per_epoch() == expected_batches);
    loader.start_epoch(0);
    batch b;
    std::vector<std::size_t> sizes;
    while (loader.next(b)) {
      sizes.push_back(b.size());
      REQUIRE(b.images.shape(0) == b.size());
      REQUIRE(b.images.shape(1) == 3);
      REQUIRE(b.images.shape(2) == 32);
      REQUIRE(b.images.shape(3) == 32);
    }
    REQUIRE(sizes.size() == expected_batches);
    CHECK(std::all_of(sizes.begin(), sizes.begin() + 15, [](std::size_t s) { return s == 64; }));
    if (!drop_last) CHECK(sizes.back() == 40);
    CHECK_FALSE(loader.next(b));  // stays exhausted
  }

  const dataset exact = indexed_dataset(128);
  CHECK(batch_loader(exact, {.batch_size = 64}).batches_per_epoch() == 2);
  CHECK(batch_loader(exact, {.batch_size = 64, .drop_last = true}).batches_per_epoch() == 2);
  const dataset small = indexed_dataset(10);
  CHECK(batch_loader(small, {.batch_size = 64}).batches_per_epoch() == 1);
  CHECK(batch_loader(small, {.batch_size = 64, .drop_last = true}).batches_per_epoch() == 0);

  const dataset empty = indexed_dataset(0);  // no images, but a shape
  batch_loader none(empty, {});
  none.start_epoch(0);
  batch b;
  CHECK_FALSE(none.next(b));
}

TEST_CASE("same seed and epoch give identical batches; epoch and seed change them", "[data][loader]") {
  const dataset d = indexed_dataset(300);
  const loader_options opts{.batch_size = 32, .seed = 42};
  batch_loader first(d, opts), second(d, opts);
  const auto a = epoch_batches(first, 5);
  const auto b = epoch_batches(second, 5);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].labels == b[i].labels);
    REQUIRE(a[i].images == b[i].images);  // augmentation too, not just order
  }
  // Replaying an epoch on the same loader reproduces it as well.
  const auto again = epoch_batches(first, 5);
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i].images == again[i].images);

  CHECK(epoch_order(first, 5, d) != epoch_order(first, 6, d));
  loader_options other = opts;
  other.seed = 43;
  batch_loader reseeded(d, other);
  CHECK(epoch_order(first, 5, d) != epoch_order(reseeded, 5, d));
}

TEST_CASE("without shuffle or augmentation images come in dataset order, normalised", "[data][loader]") {
  const dataset d = indexed_dataset(100);
  batch_loader loader(d, {.batch_size = 16, .shuffle = false, .augment = false});
  for (std::uint64_t epoch : {0u, 1u}) {
    loader.start_epoch(epoch);
    batch b;
    std::size_t next_index = 0;
    std::vector<float> expected(cifar_image_bytes);
  const image_preparation<std::uint8_t> prepare(cifar_image, cifar_normalisation());
    while (loader.next(b))
      for (std::size_t k = 0; k < b.size(); ++k, ++next_index) {
        REQUIRE(b.labels[k] == d.labels[next_index]);
        prepare.normalise(d.image(next_index), expected.data());
        const float* got = b.images.data() + k * cifar_image_bytes;
        // Tolerance only in case -march=native contracts the two inlined copies differently.
        REQUIRE(std::equal(expected.begin(), expected.end(), got,
                           [](float e, float g) { return std::fabs(e - g) <= 1e-6f; }));
      }
    CHECK(next_index == d.size());
  }

  // Shuffled but not augmented: a permutation of exactly normalised images.
  batch_loader shuffled(d, {.batch_size = 16, .augment = false});
  const auto order = epoch_order(shuffled, 0, d);
  CHECK(order.size() == d.size());
  CHECK_FALSE(std::is_sorted(order.begin(), order.end()));
}

TEST_CASE("a full-size batch reuses buffers instead of allocating", "[data][loader]") {
  const dataset d = indexed_dataset(64 * 20);
  batch_loader loader(d, {.batch_size = 64});
  loader.start_epoch(0);
  batch b;
  std::set<const float*> buffers;
  while (loader.next(b)) buffers.insert(b.images.data());
  CHECK(buffers.size() <= 3);  // caller's batch, the ready slot, the worker's
}

TEST_CASE("start_epoch mid-epoch restarts cleanly", "[data][loader]") {
  const dataset d = indexed_dataset(500);
  const loader_options opts{.batch_size = 50, .seed = 9};
  batch_loader interrupted(d, opts), fresh(d, opts);
  interrupted.start_epoch(0);
  batch b;
  REQUIRE(interrupted.next(b));
  REQUIRE(interrupted.next(b));
  const auto expected = epoch_batches(fresh, 1);
  const auto got = epoch_batches(interrupted, 1);
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i].images == expected[i].images);
}

TEST_CASE("destroying a loader mid-epoch or idle does not hang", "[data][loader]") {
  const dataset d = indexed_dataset(400);
  { batch_loader idle(d, {.batch_size = 32}); }
  {
    batch_loader started(d, {.batch_size = 32});
    started.start_epoch(0);
  }
  {
    batch_loader partway(d, {.batch_size = 32});
    partway.start_epoch(0);
    batch b;
    REQUIRE(partway.next(b));
    REQUIRE(partway.next(b));
  }
  SUCCEED();
}

TEST_CASE("worker errors reach the caller of next; misuse is reported", "[data][loader]") {
  const dataset d = indexed_dataset(40);
  batch b;
  batch_loader unstarted(d, {.batch_size = 8});
  CHECK_THROWS_AS(unstarted.next(b), std::logic_error);

  loader_options bad{.batch_size = 8};
  bad.aug.pad = -1;  // rejected by the preparation on the worker thread
  batch_loader broken(d, bad);
  broken.start_epoch(0);
  CHECK_THROWS_AS(broken.next(b), std::invalid_argument);
  CHECK_THROWS_AS(broken.next(b), std::invalid_argument);  // the epoch stays broken

  CHECK_THROWS_AS(batch_loader(d, {.batch_size = 0}), std::invalid_argument);
  dataset inconsistent = d;
  inconsistent.pixels.pop_back();
  CHECK_THROWS_AS(batch_loader(inconsistent, {}), data_error);
}

TEST_CASE("a float dataset of any shape is batched and normalised like a byte one", "[data][loader]") {
  float_dataset d;
  d.shape = {2, 3, 4};
  d.classes = 3;
  d.norm = {{0.5f, -1.0f}, {2.0f, 0.5f}};
  for (std::size_t i = 0; i < 10; ++i) {
    for (std::size_t k = 0; k < d.shape.size(); ++k) d.pixels.push_back(float(i) + 0.01f * float(k));
    d.labels.push_back(std::int32_t(i % 3));
  }
  float_batch_loader loader(d, {.batch_size = 4, .shuffle = false, .augment = false});
  loader.start_epoch(0);
  batch b;
  std::size_t seen = 0;
  while (loader.next(b)) {
    REQUIRE(b.images.shape(1) == 2);
    REQUIRE(b.images.shape(2) == 3);
    REQUIRE(b.images.shape(3) == 4);
    for (std::size_t n = 0; n < b.size(); ++n, ++seen)
      for (std::size_t k = 0; k < 24; ++k) {
        const std::size_t c = k / 12;
        const float v = d.image(seen)[k];
        REQUIRE(b.images.data()[n * 24 + k] == Approx((v - d.norm.mean[c]) / d.norm.std[c]));
      }
  }
  CHECK(seen == 10);
  // With augmentation the shape and the labels stay.
  float_batch_loader augmented(d, {.batch_size = 10, .aug = {1, true}, .seed = 3});
  augmented.start_epoch(0);
  REQUIRE(augmented.next(b));
  CHECK(b.images.shape(3) == 4);
  CHECK(std::set<std::int32_t>(b.labels.begin(), b.labels.end()).size() == 3);
}

TEST_CASE("alternating flips mirror each image in every other epoch, from a random first one", "[data][loader]") {
  // Channels 0 and 1 give the index as in indexed_dataset; channel 2 rises
  // along each row, so a mirrored image shows its high end at column 0.
  dataset d = indexed_dataset(300);
  for (std::size_t i = 0; i < d.size(); ++i) {
    std::uint8_t* plane = d.pixels.data() + i * cifar_image_bytes + 2048;
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) plane[y * 32 + x] = static_cast<std::uint8_t>(10 + 5 * x);
  }
  const auto mirrors = [&](bool alternate, std::uint64_t seed) {
    batch_loader loader(d, {.batch_size = 64, .aug = {0, true, 0, alternate}, .seed = seed});
    std::vector<std::vector<bool>> by_epoch;  // [epoch][image]
    for (std::uint64_t epoch = 0; epoch < 4; ++epoch) {
      std::vector<bool> mirrored(d.size());
      for (const batch& b : epoch_batches(loader, epoch))
        for (std::size_t k = 0; k < b.size(); ++k) {
          const int left = byte_of(b.images(k, 2, 16, 0), 2);
          REQUIRE((left == 10 || left == 10 + 5 * 31));
          mirrored[index_of(b, k)] = left != 10;
        }
      by_epoch.push_back(mirrored);
    }
    return by_epoch;
  };
  const auto alternating = mirrors(true, 5);
  std::size_t first_mirrored = 0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    first_mirrored += alternating[0][i];
    for (std::size_t epoch = 1; epoch < 4; ++epoch) REQUIRE(alternating[epoch][i] != alternating[epoch - 1][i]);
  }
  CHECK(first_mirrored > d.size() / 3);  // a random half, not all or none
  CHECK(first_mirrored < 2 * d.size() / 3);
  CHECK(mirrors(true, 6)[0] != alternating[0]);  // the first epoch's choice follows the seed
  CHECK(mirrors(true, 5) == alternating);        // and only the seed

  // Random flips, for contrast: some images keep their side from one epoch to the next.
  const auto random = mirrors(false, 5);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < d.size(); ++i) kept += random[1][i] == random[0][i];
  CHECK(kept > d.size() / 4);
}
