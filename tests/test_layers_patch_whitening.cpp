// The patch-whitening layer's filters, fitted to data, and the symmetric
// eigen-decomposition they come from.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <nibble/core/symmetric_eigen.hpp>
#include <nibble/layers/patch_whitening.hpp>
#include <nibble/quant/presets.hpp>

using namespace nibble;

TEST_CASE("eigen_decompose: A·v = λ·v, orthonormal vectors, ascending values", "[core][eigen]") {
  const std::size_t n = 12;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  std::vector<double> a(n * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i; j < n; ++j) a[i * n + j] = a[j * n + i] = normal(rng);
  const symmetric_eigen e = eigen_decompose(a, n);
  for (std::size_t k = 0; k < n; ++k) {
    if (k > 0) CHECK(e.values[k] >= e.values[k - 1]);
    for (std::size_t i = 0; i < n; ++i) {
      double av = 0;
      for (std::size_t j = 0; j < n; ++j) av += a[i * n + j] * e.vectors[k * n + j];
      REQUIRE(av == Approx(e.values[k] * e.vectors[k * n + i]).margin(1e-10));
    }
    for (std::size_t l = 0; l < n; ++l) {
      double dot = 0;
      for (std::size_t j = 0; j < n; ++j) dot += e.vectors[k * n + j] * e.vectors[l * n + j];
      REQUIRE(dot == Approx(k == l ? 1.0 : 0.0).margin(1e-12));
    }
  }
  // A diagonal matrix is its own decomposition.
  const symmetric_eigen d = eigen_decompose({3.0, 0.0, 0.0, 1.0}, 2);
  CHECK(d.values == std::vector<double>{1.0, 3.0});
  CHECK(std::abs(d.vectors[1]) == 1.0);
  CHECK_THROWS_AS(eigen_decompose({1.0, 2.0, 3.0}, 2), std::invalid_argument);
}

namespace {
using image = shape<3, 8, 8>;

// Images whose neighbouring pixels and channels are strongly correlated,
// with very different variances along different patch directions.
activation correlated_images(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  activation base = xt::zeros<float>({n, std::size_t(1), std::size_t(9), std::size_t(9)});
  for (auto& v : base) v = normal(rng);
  activation x = xt::zeros<float>({n, std::size_t(3), std::size_t(8), std::size_t(8)});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t y = 0; y < 8; ++y)
        for (std::size_t w = 0; w < 8; ++w)
          x(i, c, y, w) = base(i, 0, y, w) + 0.5f * base(i, 0, y + 1, w + 1) + float(c + 1) * 0.3f * normal(rng);
  return x;
}

// Second moments of the layer's first `channels` outputs over the pixels
// whose patch lies inside the image (rows and columns 0 to 6 of 8).
std::vector<double> output_moments(const activation& y, std::size_t channels) {
  std::vector<double> m(channels * channels, 0.0);
  const std::size_t side = y.shape(2), inside = side - 1;
  for (std::size_t i = 0; i < y.shape(0); ++i)
    for (std::size_t r = 0; r < inside; ++r)
      for (std::size_t c = 0; c < inside; ++c)
        for (std::size_t a = 0; a < channels; ++a)
          for (std::size_t b = 0; b < channels; ++b) m[a * channels + b] += double(y(i, a, r, c)) * double(y(i, b, r, c));
  for (double& v : m) v /= double(y.shape(0) * inside * inside);
  return m;
}
// A patch_whitening layer of `Scheme` after init (not fitted yet).
template <class Scheme>
patch_whitening_layer<image, 2, Scheme> initialised_layer() {
  patch_whitening_layer<image, 2, Scheme> layer;
  std::mt19937_64 rng(1);
  layer.init(rng);
  return layer;
}
}  // namespace

TEST_CASE("patch_whitening fitted to images whitens their patches; the second half is the negated first",
          "[layers][patch_whitening]") {
  auto layer = initialised_layer<float32_scheme>();
  const activation x = correlated_images(400, 7);
  context ctx;
  activation y;
  ensure_batch_shape<shape<24, 8, 8>>(y, 400);
  layer.forward(x, y, ctx);
  const std::vector<double> before = output_moments(y, 12);
  bool white_before = true;
  for (std::size_t a = 0; a < 12; ++a)
    for (std::size_t b = 0; b < 12; ++b)
      white_before = white_before && std::abs(before[a * 12 + b] - (a == b ? 1.0 : 0.0)) < 0.1;
  CHECK_FALSE(white_before);  // the He init does not whiten

  layer.fit(x);
  layer.forward(x, y, ctx);
  const std::vector<double> after = output_moments(y, 12);
  for (std::size_t a = 0; a < 12; ++a)
    for (std::size_t b = 0; b < 12; ++b)  // λ/(λ + ε) on the diagonal: within 2 % for these variances
      REQUIRE(after[a * 12 + b] == Approx(a == b ? 1.0 : 0.0).margin(0.02));
  for (std::size_t i = 0; i < y.size() / 2; i += 97) {
    const std::size_t n = i / (12 * 64), rest = i % (12 * 64);
    REQUIRE(y.data()[(n * 24 + 12) * 64 + rest] == Approx(-y.data()[n * 24 * 64 + rest]).margin(1e-5));
  }
  // Only the bias is a parameter; the filters are a buffer.
  std::size_t parameters = 0, buffers = 0;
  layer.visit_parameters([&](parameter& p) { parameters += p.size(); });
  layer.visit_buffers([&](xt::xtensor<float, 1>& b) { buffers += b.size(); });
  CHECK(parameters == 24);
  CHECK(buffers == 24 * 12);
  CHECK_THROWS_AS(layer.fit(xt::zeros<float>({std::size_t(2), std::size_t(3), std::size_t(6), std::size_t(6)})),
                  std::invalid_argument);
}

TEST_CASE("patch_whitening with 4-bit weights quantizes each fitted filter on its own scale",
          "[layers][patch_whitening]") {
  auto layer = initialised_layer<paper_4bit>();
  const activation x = correlated_images(200, 9);
  layer.fit(x);
  context ctx;
  activation y;
  ensure_batch_shape<shape<24, 8, 8>>(y, 200);
  layer.forward(x, y, ctx);
  const float* w = layer.filters_used();
  for (std::size_t f = 0; f < 24; ++f) {
    float top = 0;
    for (std::size_t k = 0; k < 12; ++k) top = std::max(top, std::abs(w[f * 12 + k]));
    REQUIRE(top > 0);
    for (std::size_t k = 0; k < 12; ++k) {
      const float code = w[f * 12 + k] / (top / 7);
      REQUIRE(code == Approx(std::round(code)).margin(1e-4));
    }
  }
}
