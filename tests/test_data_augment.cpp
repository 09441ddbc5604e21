// Per-image normalisation and augmentation against straightforward references.
#include <catch2/catch.hpp>

#include <nibble/data/augment.hpp>
#include <nibble/data/cifar.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <stdexcept>
#include <utility>
#include <vector>

using namespace nibble::data;

namespace {

constexpr int side = 32;
constexpr std::size_t floats = cifar_image_bytes;

// The library's preparation of CIFAR-shaped byte images.
void normalise_image(const std::uint8_t* src, float* dst, const normalisation& n = cifar_normalisation()) {
  image_preparation<std::uint8_t>(cifar_image, n).normalise(src, dst);
}
void augment_image(const std::uint8_t* src, float* dst, augmentation aug, std::mt19937_64& rng) {
  image_preparation<std::uint8_t>(cifar_image, cifar_normalisation()).augment(src, dst, aug, rng);
}

// Nonzero bytes that differ by channel, row and column, so any shift or
// mirror changes the output and padding (byte 0) is never confused with data.
std::vector<std::uint8_t> known_image(image_shape shape = cifar_image) {
  std::vector<std::uint8_t> img(shape.size());
  const int h = int(shape.height), w = int(shape.width);
  for (int c = 0; c < int(shape.channels); ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) img[(c * h + y) * w + x] = static_cast<std::uint8_t>(1 + c * 80 + y * 2 + x * 5 % 77);
  return img;
}

float normalised(std::uint8_t v, int c, const normalisation& n = cifar_normalisation()) {
  return static_cast<float>((v / 255.0 - n.mean[c]) / n.std[c]);
}

// Reference for torchvision's pipeline: zero-pad in pixel space, crop H x W
// at (oy, ox) of the padded image, optionally mirror, then normalise.
std::vector<float> reference(const std::vector<std::uint8_t>& src, int pad, int oy, int ox, bool mirror,
                             image_shape shape = cifar_image, const normalisation& n = cifar_normalisation()) {
  std::vector<float> out(shape.size());
  const int h = int(shape.height), w = int(shape.width);
  for (int c = 0; c < int(shape.channels); ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const int cx = mirror ? w - 1 - x : x;  // column inside the crop
        const int sy = oy + y - pad, sx = ox + cx - pad;
        const bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
        const std::uint8_t v = inside ? src[(c * h + sy) * w + sx] : 0;
        out[(c * h + y) * w + x] = normalised(v, c, n);
      }
  return out;
}

bool close(const float* a, const float* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (std::fabs(a[i] - b[i]) > 1e-5f) return false;
  return true;
}

}  // namespace

TEST_CASE("normalise_image maps byte v to (v/255 - mean)/std per channel", "[data][augment]") {
  // Every byte value in every channel.
  std::vector<std::uint8_t> src(cifar_image_bytes);
  for (std::size_t i = 0; i < cifar_image_bytes; ++i) src[i] = static_cast<std::uint8_t>(i % 256);
  std::vector<float> dst(floats);

  normalise_image(src.data(), dst.data());
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v)
      REQUIRE(dst[c * 1024 + v] == Approx(normalised(static_cast<std::uint8_t>(v), c)).margin(1e-5));

  const normalisation custom{{0.5f, 0.25f, 0.0f}, {0.5f, 2.0f, 1.0f}};
  normalise_image(src.data(), dst.data(), custom);
  CHECK(dst[0] == Approx(-1.0f).margin(1e-6));             // (0 - 0.5) / 0.5
  CHECK(dst[1024 + 255] == Approx(0.375f).margin(1e-6));   // (1 - 0.25) / 2
  CHECK(dst[2048 + 51] == Approx(0.2f).margin(1e-6));      // 51 / 255
}

TEST_CASE("augment without padding or flip equals normalise", "[data][augment]") {
  const auto src = known_image();
  std::vector<float> plain(floats), augmented(floats);
  normalise_image(src.data(), plain.data());
  std::mt19937_64 rng(7);
  for (int draw = 0; draw < 10; ++draw) {
    augment_image(src.data(), augmented.data(), augmentation{0, false}, rng);
    REQUIRE(close(augmented.data(), plain.data(), floats));
  }
}

TEST_CASE("flip produces the mirrored image about half the time", "[data][augment]") {
  const auto src = known_image();
  std::vector<std::uint8_t> mirrored_src(cifar_image_bytes);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x)
        mirrored_src[(c * side + y) * side + x] = src[(c * side + y) * side + (side - 1 - x)];
  std::vector<float> plain(floats), mirrored(floats), out(floats);
  normalise_image(src.data(), plain.data());
  normalise_image(mirrored_src.data(), mirrored.data());

  std::mt19937_64 rng(11);
  int flips = 0;
  const int draws = 200;
  for (int draw = 0; draw < draws; ++draw) {
    augment_image(src.data(), out.data(), augmentation{0, true}, rng);
    const bool is_plain = close(out.data(), plain.data(), floats);
    const bool is_mirrored = close(out.data(), mirrored.data(), floats);
    REQUIRE(is_plain != is_mirrored);
    flips += is_mirrored;
  }
  CHECK(flips > draws / 4);
  CHECK(flips < 3 * draws / 4);
}

TEST_CASE("padded crop is a shifted copy with normalised-black borders", "[data][augment]") {
  const auto src = known_image();
  const int pad = 4;
  const image_preparation<std::uint8_t> prepare(cifar_image, cifar_normalisation());

  // Explicit check of one reference: offset (0, 0) in the padded image shows
  // pad rows/columns of black, then the image shifted down-right by pad.
  const auto corner = reference(src, pad, 0, 0, false);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const float got = corner[(c * side + y) * side + x];
        if (y < pad || x < pad)
          REQUIRE(got == Approx(normalised(0, c)));
        else
          REQUIRE(got == Approx(normalised(src[(c * side + y - pad) * side + x - pad], c)));
      }

  // Every augmented output must be exactly one of the (2*pad+1)^2 * 2
  // references, and every crop offset must turn up.
  struct candidate {
    int oy, ox;
    bool mirror;
    std::vector<float> image;
  };
  std::vector<candidate> candidates;
  for (int oy = 0; oy <= 2 * pad; ++oy)
    for (int ox = 0; ox <= 2 * pad; ++ox)
      for (bool mirror : {false, true}) candidates.push_back({oy, ox, mirror, reference(src, pad, oy, ox, mirror)});

  std::mt19937_64 rng(2024);
  std::vector<float> out(floats);
  std::set<std::pair<int, int>> offsets;
  std::set<int> rows, cols;
  int mirrors = 0;
  const int draws = 1500;
  for (int draw = 0; draw < draws; ++draw) {
    prepare.augment(src.data(), out.data(), augmentation{pad, true}, rng);
    int matches = 0;
    for (const candidate& k : candidates)
      if (close(out.data(), k.image.data(), floats)) {
        ++matches;
        offsets.insert({k.oy, k.ox});
        rows.insert(k.oy);
        cols.insert(k.ox);
        mirrors += k.mirror;
      }
    REQUIRE(matches == 1);
  }
  CHECK(rows.size() == 2 * pad + 1);
  CHECK(cols.size() == 2 * pad + 1);
  CHECK(offsets.size() == (2 * pad + 1) * (2 * pad + 1));
  CHECK(mirrors > draws / 4);
  CHECK(mirrors < 3 * draws / 4);
}

TEST_CASE("reflected padding: every crop is the image shifted with its border reflected, and all offsets turn up",
          "[data][augment]") {
  const auto src = known_image();
  const int pad = 2;
  const image_preparation<std::uint8_t> prepare(cifar_image, cifar_normalisation());
  xt::xtensor<float, 4> plain({1, 3, std::size_t(side), std::size_t(side)}), shifted, mirrored;
  prepare.normalise(src.data(), plain.data());
  struct candidate {
    int dy, dx;
    bool mirror;
    xt::xtensor<float, 4> image;
  };
  std::vector<candidate> candidates;
  for (int dy = -pad; dy <= pad; ++dy)
    for (int dx = -pad; dx <= pad; ++dx) {
      shift_images(plain, -dy, -dx, shifted);  // output (y, x) reads (y + dy, x + dx), reflected
      mirror_images(shifted, mirrored);
      candidates.push_back({dy, dx, false, shifted});
      candidates.push_back({dy, dx, true, mirrored});
    }
  std::mt19937_64 rng(7), same(7);
  std::vector<float> out(floats), black(floats);
  std::set<std::pair<int, int>> offsets;
  for (int draw = 0; draw < 600; ++draw) {
    prepare.augment(src.data(), out.data(), augmentation{.pad = pad, .flip = true, .reflect = true}, rng);
    int matches = 0;
    for (const candidate& k : candidates)
      if (close(out.data(), k.image.data(), floats)) {
        ++matches;
        offsets.insert({k.dy, k.dx});
      }
    REQUIRE(matches == 1);
    // The same draws as black padding: the pixels inside the image agree.
    prepare.augment(src.data(), black.data(), augmentation{.pad = pad, .flip = true}, same);
    for (std::size_t c = 0; c < 3; ++c)
      for (int y = pad; y < side - pad; ++y)
        REQUIRE(out[(c * side + std::size_t(y)) * side + std::size_t(side) / 2] ==
                black[(c * side + std::size_t(y)) * side + std::size_t(side) / 2]);
  }
  CHECK(offsets.size() == std::size_t((2 * pad + 1) * (2 * pad + 1)));
  CHECK_THROWS_AS(prepare.augment(src.data(), out.data(), augmentation{.pad = side, .reflect = true}, rng),
                  std::invalid_argument);
}

TEST_CASE("normalised_images: a range of a set as one batch, out-of-range refused", "[data][augment]") {
  dataset d;
  d.shape = cifar_image;
  d.norm = cifar_normalisation();
  d.classes = 10;
  for (int i = 0; i < 3; ++i) {
    const auto img = known_image();
    for (auto v : img) d.pixels.push_back(std::uint8_t(v + i));
    d.labels.push_back(std::uint8_t(i));
  }
  const auto batch = normalised_images(d, 1, 2);
  CHECK(batch.shape(0) == 2);
  const image_preparation<std::uint8_t> prepare(d);
  std::vector<float> expected(floats);
  prepare.normalise(d.image(2), expected.data());
  CHECK(close(batch.data() + floats, expected.data(), floats));
  CHECK_THROWS_AS(normalised_images(d, 2, 2), std::invalid_argument);
}

TEST_CASE("augmentation depends only on the generator state", "[data][augment]") {
  const auto src = known_image();
  std::vector<float> a(floats), b(floats);
  std::mt19937_64 rng_a(99), rng_b(99);
  for (int draw = 0; draw < 20; ++draw) {
    augment_image(src.data(), a.data(), augmentation{}, rng_a);
    augment_image(src.data(), b.data(), augmentation{}, rng_b);
    REQUIRE(a == b);
  }
}

TEST_CASE("padding larger than the image gives all-black crops; negative padding is rejected", "[data][augment]") {
  // Channel 0 encodes the row and channel 1 the column (1..32; 0 is padding),
  // so the crop offset can be read back from any non-black output pixel.
  std::vector<std::uint8_t> src(cifar_image_bytes);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      src[y * side + x] = static_cast<std::uint8_t>(1 + y);
      src[(side + y) * side + x] = static_cast<std::uint8_t>(1 + x);
      src[(2 * side + y) * side + x] = 200;
    }
  const auto byte_of = [](float f, int c) {
    const normalisation n = cifar_normalisation();
    return static_cast<int>(std::lround((f * n.std[c] + n.mean[c]) * 255.0f));
  };

  const int pad = 40;
  std::vector<float> out(floats);
  std::mt19937_64 rng(5);
  int all_black = 0;
  for (int draw = 0; draw < 100; ++draw) {
    augment_image(src.data(), out.data(), augmentation{pad, false}, rng);
    int oy = -1, ox = -1;
    for (int i = 0; i < side * side && oy < 0; ++i) {
      const int row = byte_of(out[i], 0), col = byte_of(out[1024 + i], 1);
      if (row > 0) {
        oy = (row - 1) - i / side + pad;
        ox = (col - 1) - i % side + pad;
      }
    }
    if (oy < 0) {
      ++all_black;
      for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 1024; ++i) REQUIRE(out[c * 1024 + i] == Approx(normalised(0, c)));
    } else {
      REQUIRE(close(out.data(), reference(src, pad, oy, ox, false).data(), floats));
    }
  }
  CHECK(all_black > 0);
  CHECK(all_black < 100);
  CHECK_THROWS_AS(augment_image(src.data(), out.data(), augmentation{-1, false}, rng), std::invalid_argument);
}

TEST_CASE("mirror_images reverses every row of every image", "[data][augment]") {
  xt::xtensor<float, 4> in = xt::zeros<float>({2ul, 3ul, 2ul, 4ul}), out;
  for (std::size_t i = 0; i < in.size(); ++i) in.data()[i] = float(i);
  mirror_images(in, out);
  REQUIRE(out.shape() == in.shape());
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t y = 0; y < 2; ++y)
        for (std::size_t x = 0; x < 4; ++x) CHECK(out(n, c, y, x) == in(n, c, y, 3 - x));
}

TEST_CASE("images of any shape are cropped and mirrored like the reference", "[data][augment]") {
  // Grayscale and four-channel images, neither square nor CIFAR-sized.
  for (const image_shape shape : {image_shape{1, 28, 20}, image_shape{4, 9, 13}}) {
    normalisation n;
    for (std::size_t c = 0; c < shape.channels; ++c) {
      n.mean.push_back(0.1f * float(c + 1));
      n.std.push_back(0.3f + 0.05f * float(c));
    }
    const image_preparation<std::uint8_t> prepare(shape, n);
    const auto src = known_image(shape);
    std::vector<float> out(shape.size());
    prepare.normalise(src.data(), out.data());
    REQUIRE(close(out.data(), reference(src, 0, 0, 0, false, shape, n).data(), shape.size()));

    const int pad = 3;
    std::mt19937_64 rng(17);
    std::set<std::tuple<int, int, bool>> seen;
    for (int draw = 0; draw < 600; ++draw) {
      prepare.augment(src.data(), out.data(), augmentation{pad, true}, rng);
      int matches = 0;
      for (int oy = 0; oy <= 2 * pad; ++oy)
        for (int ox = 0; ox <= 2 * pad; ++ox)
          for (bool mirror : {false, true})
            if (close(out.data(), reference(src, pad, oy, ox, mirror, shape, n).data(), shape.size())) {
              ++matches;
              seen.insert({oy, ox, mirror});
            }
      REQUIRE(matches == 1);
    }
    CHECK(seen.size() == std::size_t(2 * (2 * pad + 1) * (2 * pad + 1)));  // every crop, both ways
  }
}

TEST_CASE("float samples are normalised as they are, bytes as v / 255", "[data][augment]") {
  const image_shape shape{2, 1, 3};
  const normalisation n{{0.5f, -1.0f}, {0.25f, 2.0f}};
  const std::vector<float> samples{0.0f, 0.5f, 1.5f, -3.0f, 1.0f, 7.0f};
  std::vector<float> out(6);
  image_preparation<float>(shape, n).normalise(samples.data(), out.data());
  const std::vector<float> expected{-2.0f, 0.0f, 4.0f, -1.0f, 1.0f, 4.0f};
  for (std::size_t i = 0; i < 6; ++i) CHECK(out[i] == Approx(expected[i]));
  const std::vector<std::uint8_t> bytes{0, 255, 51, 0, 255, 255};
  image_preparation<std::uint8_t>(shape, n).normalise(bytes.data(), out.data());
  CHECK(out[1] == Approx(2.0f));
  CHECK(out[2] == Approx((0.2f - 0.5f) / 0.25f));
  CHECK(out[3] == Approx(0.5f));
  CHECK_THROWS_WITH(image_preparation<float>(image_shape{3, 1, 1}, n),
                    Catch::Contains("normalisation for 2 channels cannot prepare images of 3x1x1"));
}

TEST_CASE("channel_statistics gives each channel's mean and deviation", "[data][augment]") {
  dataset d;
  d.shape = {2, 1, 2};
  d.classes = 1;
  // Channel 0: bytes 0, 255, 0, 255 (mean 0.5, deviation 0.5); channel 1 constant 51.
  d.pixels = {0, 255, 51, 51, 0, 255, 51, 51};
  d.labels = {0, 0};
  const normalisation n = channel_statistics(d);
  REQUIRE(n.mean.size() == 2);
  CHECK(n.mean[0] == Approx(0.5f));
  CHECK(n.std[0] == Approx(0.5f));
  CHECK(n.mean[1] == Approx(0.2f));
  CHECK(n.std[1] == 1.0f);  // a constant channel is only centred
}

TEST_CASE("check_dataset refuses a dataset that cannot be fed, saying why", "[data][augment]") {
  dataset d;
  d.shape = {1, 2, 2};
  d.classes = 3;
  d.pixels.assign(8, 0);
  d.labels = {0, 2};
  d.norm = {{0.5f}, {0.25f}};
  REQUIRE_NOTHROW(check_dataset(d, "the set"));
  auto refused = [&](auto change, const std::string& words) {
    dataset bad = d;
    change(bad);
    CHECK_THROWS_WITH(check_dataset(bad, "the set"), Catch::Contains("the set") && Catch::Contains(words));
  };
  refused([](dataset& b) { b.pixels.pop_back(); }, "2 labels of 1x2x2 images need 8 samples, got 7");
  refused([](dataset& b) { b.labels[1] = 3; }, "label 3 at image 1, outside 0..2");
  refused([](dataset& b) { b.labels[0] = -1; }, "label -1 at image 0");
  refused([](dataset& b) { b.norm = {}; }, "has no normalisation");
  refused([](dataset& b) { b.norm = {{0.1f, 0.2f}, {1.0f, 1.0f}}; }, "2 means and 2 deviations for 1 channels");
  refused([](dataset& b) { b.norm.std[0] = 0; }, "unusable normalisation for channel 0");
  refused([](dataset& b) { b.shape = {}; }, "has no image shape");
  refused([](dataset& b) { b.classes = 0; }, "has no classes");
}

TEST_CASE("shift_images moves every plane, reflecting at the border, and refuses shifts past the image",
          "[data][augment]") {
  // Two images of two channels, 3x4 pixels each; every value distinct.
  xt::xtensor<float, 4> in = xt::zeros<float>({2ul, 2ul, 3ul, 4ul});
  for (std::size_t i = 0; i < in.size(); ++i) in.data()[i] = float(i);
  xt::xtensor<float, 4> out;
  shift_images(in, 0, 0, out);
  CHECK(std::equal(out.begin(), out.end(), in.begin(), in.end()));
  // Down 1, left 2: out(y, x) = in(y - 1, x + 2); row -1 reflects to row 1,
  // columns 4 and 5 to columns 2 and 1.
  shift_images(in, 1, -2, out);
  const std::array<std::array<int, 4>, 3> source = {{{{1 * 4 + 2, 1 * 4 + 3, 1 * 4 + 2, 1 * 4 + 1}},
                                                     {{0 * 4 + 2, 0 * 4 + 3, 0 * 4 + 2, 0 * 4 + 1}},
                                                     {{1 * 4 + 2, 1 * 4 + 3, 1 * 4 + 2, 1 * 4 + 1}}}};
  for (std::size_t plane = 0; plane < 4; ++plane)
    for (std::size_t y = 0; y < 3; ++y)
      for (std::size_t x = 0; x < 4; ++x)
        CHECK(out.data()[plane * 12 + y * 4 + x] == float(plane * 12 + std::size_t(source[y][x])));
  CHECK_THROWS_WITH(shift_images(in, 3, 0, out), Catch::Contains("cannot shift 3x4 images by (3, 0)"));
  CHECK_THROWS_WITH(shift_images(in, 0, -4, out), Catch::Contains("cannot shift 3x4 images by (0, -4)"));
}

TEST_CASE("cutout masks one square inside the image with the mean colour, anywhere it fits", "[data][augment]") {
  // Without crop or flip, the output is the plain image but for one
  // side x side square of zeros (the mean colour once normalised).
  const auto src = known_image();
  std::vector<float> plain(floats), out(floats);
  normalise_image(src.data(), plain.data());
  const int cut = 8;
  std::mt19937_64 rng(31);
  std::set<std::pair<int, int>> corners;
  for (int draw = 0; draw < 3000; ++draw) {
    augment_image(src.data(), out.data(), augmentation{0, false, cut}, rng);
    int top = side, left = side, masked = 0;
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < side; ++y)
        for (int x = 0; x < side; ++x) {
          const std::size_t i = std::size_t((c * side + y) * side + x);
          if (out[i] == 0.0f && plain[i] != 0.0f) {
            ++masked;
            top = std::min(top, y);
            left = std::min(left, x);
          } else {
            REQUIRE(out[i] == plain[i]);
          }
        }
    REQUIRE(masked == 3 * cut * cut);  // the whole square, in every channel, and nothing else
    REQUIRE(top + cut <= side);
    REQUIRE(left + cut <= side);
    for (int c = 0; c < 3; ++c)
      for (int y = top; y < top + cut; ++y)
        for (int x = left; x < left + cut; ++x) REQUIRE(out[std::size_t((c * side + y) * side + x)] == 0.0f);
    corners.insert({top, left});
  }
  // 25 x 25 places, 3000 draws: each is missed with probability (1 - 1/625)^3000 < 1 %.
  CHECK(corners.size() > 600);
  CHECK(corners.count({0, 0}) + corners.count({side - cut, side - cut}) > 0);
}

TEST_CASE("cutout leaves the crop and mirror of the same draws alone", "[data][augment]") {
  // The crop and mirror are drawn first, so with cutout the output agrees
  // with the one without it everywhere outside the square.
  const auto src = known_image();
  std::vector<float> with(floats), without(floats);
  std::mt19937_64 rng_with(8), rng_without(8);
  for (int draw = 0; draw < 200; ++draw) {
    augment_image(src.data(), with.data(), augmentation{4, true, 6}, rng_with);
    augment_image(src.data(), without.data(), augmentation{4, true, 0}, rng_without);
    rng_without.discard(2);  // the square's two draws
    int differ = 0;
    for (std::size_t i = 0; i < floats; ++i)
      if (with[i] != without[i]) {
        REQUIRE(with[i] == 0.0f);
        ++differ;
      }
    REQUIRE(differ <= 3 * 6 * 6);
  }
}

TEST_CASE("a cutout square larger than the image, or negative, is rejected", "[data][augment]") {
  const auto src = known_image();
  std::vector<float> out(floats);
  std::mt19937_64 rng(1);
  augment_image(src.data(), out.data(), augmentation{0, false, side}, rng);  // the whole image: allowed
  for (int c = 0; c < 3; ++c) CHECK(out[std::size_t(c * 1024 + 517)] == 0.0f);
  CHECK_THROWS_AS(augment_image(src.data(), out.data(), augmentation{0, false, side + 1}, rng), std::invalid_argument);
  CHECK_THROWS_AS(augment_image(src.data(), out.data(), augmentation{0, false, -1}, rng), std::invalid_argument);
}

TEST_CASE("a mirror given to augment replaces the drawn one and leaves the crop and the draws alone", "[data][augment]") {
  const auto src = known_image();
  const auto row_reversed = [](const std::vector<float>& img) {
    std::vector<float> out(img.size());
    for (std::size_t r = 0; r < img.size() / side; ++r)
      std::reverse_copy(img.begin() + r * side, img.begin() + (r + 1) * side, out.begin() + r * side);
    return out;
  };
  const image_preparation<std::uint8_t> prepare(cifar_image, cifar_normalisation());
  std::vector<float> mirrored(floats), plain(floats);
  std::mt19937_64 rng(42);
  for (int draw = 0; draw < 50; ++draw) {
    std::mt19937_64 a = rng, b = rng;
    prepare.augment(src.data(), mirrored.data(), augmentation{4, true}, a, true);
    prepare.augment(src.data(), plain.data(), augmentation{4, true}, b, false);
    REQUIRE(a == b);  // the same draws were made
    REQUIRE(close(mirrored.data(), row_reversed(plain).data(), floats));
    REQUIRE_FALSE(close(mirrored.data(), plain.data(), floats));
    // Without flip a given mirror is ignored, as flip ignores nothing else.
    std::mt19937_64 c = rng, d = rng;
    prepare.augment(src.data(), mirrored.data(), augmentation{4, false}, c, true);
    prepare.augment(src.data(), plain.data(), augmentation{4, false}, d);
    REQUIRE(mirrored == plain);
    rng = a;
  }
}
