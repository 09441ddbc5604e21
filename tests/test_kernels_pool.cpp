// Max pooling's kernels against a plain reference, on image sizes that take
// the vectorised paths (output rows of 16, 8 and 4 windows) and the scalar
// one, with many ties: the first maximum in row-major order must win.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include <nibble/kernels/pool.hpp>

namespace {

void check_max_pool2(std::size_t planes, std::size_t h, std::size_t w) {
  INFO(planes << " planes of " << h << "x" << w);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> level(0, 2);  // few values: ties everywhere
  std::normal_distribution<float> normal;
  std::vector<float> x(planes * h * w), dy(planes * h * w / 4);
  for (auto& v : x) v = float(level(rng));
  for (auto& v : dy) v = normal(rng);
  const std::size_t oh = h / 2, ow = w / 2;
  std::vector<float> y(planes * oh * ow), dx(x.size(), -1.0f);
  std::vector<std::uint8_t> argmax(y.size());
  nibble::kernels::max_pool_forward<2>(planes, h, w, x.data(), y.data(), argmax.data());
  nibble::kernels::max_pool_backward<2>(planes, h, w, argmax.data(), dy.data(), dx.data());

  std::vector<float> want_dx(x.size(), 0.0f);
  for (std::size_t p = 0; p < planes; ++p)
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) {
        const std::size_t o = (p * oh + oy) * ow + ox;
        std::size_t best = 0;
        float m = x[(p * h + 2 * oy) * w + 2 * ox];
        for (std::size_t i = 1; i < 4; ++i) {
          const float v = x[(p * h + 2 * oy + i / 2) * w + 2 * ox + i % 2];
          if (v > m) m = v, best = i;
        }
        REQUIRE(y[o] == m);
        REQUIRE(argmax[o] == best);
        want_dx[(p * h + 2 * oy + best / 2) * w + 2 * ox + best % 2] = dy[o];
      }
  REQUIRE(dx == want_dx);
}

}  // namespace

TEST_CASE("max_pool2 kernels pick the first maximum and route the gradient to it", "[kernels][pool]") {
  check_max_pool2(3, 32, 32);  // 16 windows per output row
  check_max_pool2(5, 16, 16);  // 8 windows per output row, two rows at a time
  check_max_pool2(4, 8, 8);    // 4 windows per output row, four rows at a time
  check_max_pool2(2, 6, 8);    // 4 windows per output row, but 3 rows: scalar
  check_max_pool2(2, 6, 10);   // scalar, not square
  check_max_pool2(2, 4, 64);   // 32 windows per output row
}

TEST_CASE("max pooling of channels-last codes takes each channel's largest code in its window", "[kernels][pool]") {
  const std::size_t batch = 2, h = 6, w = 4, channels = 67;  // a channel count no vector width divides
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> code(0, 255);
  std::vector<std::uint8_t> x(batch * h * w * channels), y(batch * h * w * channels / 4, 0);
  for (auto& v : x) v = std::uint8_t(code(rng));
  nibble::kernels::max_pool_pixel_codes<2>(batch, h, w, channels, x.data(), y.data());
  const auto at = [&](std::size_t n, std::size_t yy, std::size_t xx, std::size_t c) {
    return x[((n * h + yy) * w + xx) * channels + c];
  };
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t oy = 0; oy < h / 2; ++oy)
      for (std::size_t ox = 0; ox < w / 2; ++ox)
        for (std::size_t c = 0; c < channels; ++c) {
          const std::uint8_t m = std::max({at(n, 2 * oy, 2 * ox, c), at(n, 2 * oy, 2 * ox + 1, c),
                                           at(n, 2 * oy + 1, 2 * ox, c), at(n, 2 * oy + 1, 2 * ox + 1, c)});
          REQUIRE(y[((n * h / 2 + oy) * w / 2 + ox) * channels + c] == m);
        }
}
