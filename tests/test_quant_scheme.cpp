// The laws of the quantizer, the clip policies and the gradient estimators.
#include <catch2/catch.hpp>

#include <nibble/quant/presets.hpp>
#include <nibble/quant/scheme.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <set>
#include <vector>

using namespace nibble;

namespace {

struct quantized {
  std::vector<float> values;
  std::vector<float> scales;
};

template <class S>
quantized quantize(const std::vector<float>& w, std::size_t rows) {
  REQUIRE(w.size() % rows == 0);
  quantized q{std::vector<float>(w.size()), std::vector<float>(S::scale_count(rows))};
  S::quantize(w.data(), q.values.data(), rows, w.size() / rows, q.scales.data());
  return q;
}

std::vector<float> gaussian(std::size_t n, std::uint64_t seed, float sigma = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> w(n);
  for (auto& v : w) v = normal(rng);
  return w;
}

// w followed by −w: the largest magnitude then occurs with both signs.
std::vector<float> symmetrised(std::vector<float> w) {
  const std::size_t n = w.size();
  for (std::size_t i = 0; i < n; ++i) w.push_back(-w[i]);
  return w;
}

float abs_max(const float* w, std::size_t n) {
  float m = 0.0f;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(w[i]));
  return m;
}

// Integer codes of quantized values under their scale (exact multiples).
std::set<long> codes(const quantized& q, std::size_t cols) {
  std::set<long> c;
  std::size_t off_grid = 0;
  for (std::size_t i = 0; i < q.values.size(); ++i) {
    const float s = q.scales[q.scales.size() == 1 ? 0 : i / cols];
    const float k = q.values[i] / s;
    off_grid += !(std::fabs(k - std::nearbyint(k)) < 1e-4f);
    c.insert(std::lround(k));
  }
  REQUIRE(off_grid == 0);
  return c;
}

template <int N>
using per_tensor = scheme<bits<N>, no_clip, abs_max_per_tensor, ste>;
template <int N>
using per_channel = scheme<bits<N>, no_clip, abs_max_per_channel, ste>;

template <class T>
struct width_of;
template <int N>
struct width_of<bits<N>> {
  static constexpr int value = N;
};

}  // namespace

TEMPLATE_TEST_CASE("quantized weights take at most 2^(N-1)*2-1 levels and all of them on a large sample",
                   "[quant][levels]", bits<2>, bits<3>, bits<4>, bits<5>, bits<6>, bits<7>, bits<8>) {
  constexpr int n_bits = width_of<TestType>::value;
  using S = per_tensor<n_bits>;
  constexpr long qmax = (1L << (n_bits - 1)) - 1;
  constexpr std::size_t levels = std::size_t(2 * qmax + 1);
  STATIC_REQUIRE(TestType::levels == int(levels));
  STATIC_REQUIRE(S::qmax == qmax);

  std::set<long> all;
  for (long k = -qmax; k <= qmax; ++k) all.insert(k);

  // Gaussian weights. The integer grid is uniform, so the top levels of a
  // fine grid land in the Gaussian's sparse tail: up to 5 bits a sample of
  // 400,000 reaches every level; beyond that only "at most" is checked here.
  const std::vector<float> g = symmetrised(gaussian(200000, 1000 + n_bits));
  const auto gc = codes(quantize<S>(g, 1), g.size());
  REQUIRE(gc.size() <= levels);
  REQUIRE(*gc.begin() == -qmax);
  REQUIRE(*gc.rbegin() == qmax);
  if constexpr (n_bits <= 5) REQUIRE(gc == all);
  if constexpr (n_bits == 4) {
    REQUIRE(gc.size() == 15);
    REQUIRE(gc == std::set<long>{-7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7});
  }

  // Uniform weights reach every level for every width.
  std::mt19937_64 rng(2000 + n_bits);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> w(100000);
  for (auto& v : w) v = u(rng);
  const auto uc = codes(quantize<S>(w, 4), w.size() / 4);
  REQUIRE(uc == all);
}

TEMPLATE_TEST_CASE("the quantizer is symmetric and exact at zero and idempotent and within half a step",
                   "[quant][laws]", bits<2>, bits<3>, bits<4>, bits<5>, bits<6>, bits<7>, bits<8>) {
  constexpr int n_bits = width_of<TestType>::value;
  using S = per_tensor<n_bits>;
  const float qmax = float(S::qmax);

  std::vector<float> w = gaussian(4096, 3000 + n_bits, 0.7f);
  for (std::size_t i = 0; i < w.size(); i += 97) w[i] = 0.0f;
  const quantized q = quantize<S>(w, 16);
  REQUIRE(q.scales.size() == 1);
  const float s = q.scales[0];

  SECTION("scale = max|W| / qmax") {
    REQUIRE(s == Approx(abs_max(w.data(), w.size()) / qmax).epsilon(1e-6));
    // The largest weight lands on the top level.
    REQUIRE(abs_max(q.values.data(), q.values.size()) == Approx(qmax * s).epsilon(1e-6));
  }

  SECTION("quantize(-w) == -quantize(w)") {
    std::vector<float> neg(w.size());
    std::transform(w.begin(), w.end(), neg.begin(), [](float v) { return -v; });
    const quantized qn = quantize<S>(neg, 16);
    REQUIRE(qn.scales[0] == s);
    for (std::size_t i = 0; i < w.size(); ++i) REQUIRE(qn.values[i] == -q.values[i]);

    // Exact half steps, where a rounding that is not symmetric (such as
    // floor(x + 0.5)) would differ: with max|W| = qmax the step is exactly 1.
    std::vector<float> halves = {qmax, -qmax};
    for (float k = 0.5f; k < qmax; k += 1.0f) {
      halves.push_back(k);
      halves.push_back(-k);
    }
    const quantized qh = quantize<S>(halves, 1);
    REQUIRE(qh.scales[0] == 1.0f);
    for (std::size_t i = 0; i < halves.size(); i += 2) {
      INFO("w = " << halves[i]);
      REQUIRE(qh.values[i + 1] == -qh.values[i]);
      REQUIRE(std::fabs(qh.values[i] - halves[i]) == 0.5f * float(i >= 2));
    }
  }

  SECTION("zero maps to zero") {
    for (std::size_t i = 0; i < w.size(); i += 97) REQUIRE(q.values[i] == 0.0f);
    REQUIRE(S::code(0.0f, s) == 0);
    REQUIRE(S::code(-0.0f, s) == 0);
  }

  SECTION("|wq - w| <= s/2 for every element") {
    for (std::size_t i = 0; i < w.size(); ++i) {
      INFO("w = " << w[i] << ", wq = " << q.values[i] << ", s = " << s);
      REQUIRE(std::fabs(q.values[i] - w[i]) <= 0.5f * s * (1.0f + 1e-5f));
    }
  }

  SECTION("idempotence: quantize(quantize(w)) has the same codes and values") {
    const quantized qq = quantize<S>(q.values, 16);
    REQUIRE(qq.scales[0] == Approx(s).epsilon(1e-6));
    for (std::size_t i = 0; i < w.size(); ++i) {
      REQUIRE(S::code(qq.values[i], qq.scales[0]) == S::code(q.values[i], s));
      REQUIRE(std::fabs(qq.values[i] - q.values[i]) <=
              4.0f * std::numeric_limits<float>::epsilon() * std::fabs(q.values[i]));
    }
  }

  SECTION("codes saturate at ±qmax") {
    REQUIRE(S::code(1e6f, s) == S::qmax);
    REQUIRE(S::code(-1e6f, s) == -S::qmax);
    REQUIRE(S::code(qmax * s, s) == S::qmax);
  }
}

TEMPLATE_TEST_CASE("per-channel scaling gives each row its own scale", "[quant][per_channel]", bits<2>, bits<4>,
                   bits<8>) {
  constexpr int n_bits = width_of<TestType>::value;
  using S = per_channel<n_bits>;
  using T = per_tensor<n_bits>;
  const float qmax = float(S::qmax);
  constexpr std::size_t rows = 5, cols = 40;

  std::vector<float> w = gaussian(rows * cols, 4000 + n_bits);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] *= std::pow(10.0f, float(i / cols) - 2.0f);  // 0.01 ... 100
  const quantized q = quantize<S>(w, rows);
  REQUIRE(q.scales.size() == rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = w.data() + r * cols;
    const float s = q.scales[r];
    REQUIRE(s == Approx(abs_max(row, cols) / qmax).epsilon(1e-6));
    REQUIRE(abs_max(q.values.data() + r * cols, cols) == Approx(qmax * s).epsilon(1e-6));
    // The row quantizes exactly as it would on its own.
    const quantized alone = quantize<T>(std::vector<float>(row, row + cols), 1);
    REQUIRE(alone.scales[0] == s);
    for (std::size_t c = 0; c < cols; ++c) {
      REQUIRE(q.values[r * cols + c] == alone.values[c]);
      REQUIRE(std::fabs(q.values[r * cols + c] - row[c]) <= 0.5f * s * (1.0f + 1e-5f));
    }
  }
  // The small rows keep their resolution: a per-tensor scale would round
  // them all to zero.
  const quantized t = quantize<T>(w, rows);
  REQUIRE(std::all_of(t.values.begin(), t.values.begin() + cols, [](float v) { return v == 0.0f; }));
  REQUIRE(std::any_of(q.values.begin(), q.values.begin() + cols, [](float v) { return v != 0.0f; }));
}

TEST_CASE("an all-zero tensor quantizes to zeros without NaN", "[quant][zero]") {
  const std::vector<float> z(60, 0.0f);
  auto check = [](const quantized& q) {
    for (float s : q.scales) {
      REQUIRE(std::isfinite(s));
      REQUIRE(s > 0.0f);
    }
    for (float v : q.values) REQUIRE(v == 0.0f);
  };
  check(quantize<per_tensor<4>>(z, 3));
  check(quantize<per_tensor<2>>(z, 3));
  check(quantize<per_channel<8>>(z, 3));
  check(quantize<paper_4bit>(z, 1));

  // One zero row among non-zero ones, per channel.
  std::vector<float> w = gaussian(60, 5);
  std::fill(w.begin() + 20, w.begin() + 40, 0.0f);
  const quantized q = quantize<per_channel<4>>(w, 3);
  check(quantized{std::vector<float>(q.values.begin() + 20, q.values.begin() + 40), {q.scales[1]}});
}

TEST_CASE("tanh_clip<3> keeps weights strictly between -3 and 3 and is near the identity for small ones",
          "[quant][clip]") {
  using clip = tanh_clip<3.0f>;
  std::vector<float> w = {1e6f, -1e6f, 1e30f, -1e30f, 1e3f, -1e3f, 100.0f, -100.0f, 30.0f, -30.0f,
                          10.0f, -10.0f, 3.0f, -3.0f, 2.9f, -2.9f};
  std::vector<float> c = w;
  clip::apply(c.data(), c.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    INFO("w = " << w[i] << " -> " << c[i]);
    REQUIRE(c[i] > -3.0f);
    REQUIRE(c[i] < 3.0f);
    REQUIRE(std::signbit(c[i]) == std::signbit(w[i]));
  }
  // Monotone: larger inputs never clip to smaller outputs.
  std::vector<float> ramp;
  for (float v = -50.0f; v <= 50.0f; v += 0.25f) ramp.push_back(v);
  std::vector<float> clipped = ramp;
  clip::apply(clipped.data(), clipped.size());
  REQUIRE(std::is_sorted(clipped.begin(), clipped.end()));

  // Near the identity for small weights: 3·tanh(w/3) = w − w³/27 + ...
  std::vector<float> small = gaussian(1000, 6, 0.1f);
  std::vector<float> cs = small;
  clip::apply(cs.data(), cs.size());
  for (std::size_t i = 0; i < small.size(); ++i) {
    const float v = small[i];
    REQUIRE(std::fabs(cs[i] - v) <= std::fabs(v * v * v) / 27.0f * 1.01f + 1e-7f);
    REQUIRE(cs[i] == Approx(v).epsilon(0.02));
  }
  REQUIRE(std::fabs(cs[0]) <= std::fabs(small[0]));

  // paper_4bit's post-step is this clip.
  std::vector<float> p = {100.0f, 0.5f, -7.0f};
  paper_4bit::post_step(p.data(), p.size());
  REQUIRE(p[0] == Approx(3.0f * std::tanh(100.0f / 3.0f)));
  REQUIRE(p[1] == Approx(3.0f * std::tanh(0.5f / 3.0f)));
  REQUIRE(p[2] == Approx(3.0f * std::tanh(-7.0f / 3.0f)));
}

TEST_CASE("hard_clip clamps and no_clip leaves weights alone", "[quant][clip]") {
  std::vector<float> w = {-5.0f, -1.0f, -0.999f, 0.0f, 0.5f, 1.0f, 1.001f, 1e9f};
  std::vector<float> h = w;
  hard_clip<1.0f>::apply(h.data(), h.size());
  REQUIRE(h == std::vector<float>{-1.0f, -1.0f, -0.999f, 0.0f, 0.5f, 1.0f, 1.0f, 1.0f});
  std::vector<float> h2 = w;
  hard_clip<0.25f>::apply(h2.data(), h2.size());
  REQUIRE(h2 == std::vector<float>{-0.25f, -0.25f, -0.25f, 0.0f, 0.25f, 0.25f, 0.25f, 0.25f});
  std::vector<float> n = w;
  no_clip::apply(n.data(), n.size());
  REQUIRE(n == w);
}

TEST_CASE("clipped_ste passes the gradient inside the range qmax*s and zeroes it outside", "[quant][estimator]") {
  using S = scheme<bits<4>, no_clip, abs_max_per_tensor, clipped_ste>;
  const float s = 0.1f;
  const float bound = float(S::qmax) * s;  // 0.7
  const std::vector<float> w = {0.0f, 0.3f, -0.3f, 0.69f, -0.69f, bound, -bound,
                                0.75f, -0.75f, 1.5f, -1.5f, 100.0f, -100.0f};
  const std::vector<float> expect = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  std::vector<float> grad(w.size(), 2.5f);
  S::backward(w.data(), &s, grad.data(), 1, w.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    INFO("w = " << w[i]);
    REQUIRE(grad[i] == 2.5f * expect[i]);
  }
  for (std::size_t i = 0; i < w.size(); ++i)
    REQUIRE(clipped_ste::derivative(w[i], s, float(S::qmax)) == expect[i]);

  // Per channel: row r is judged against its own scale.
  using P = scheme<bits<3>, no_clip, abs_max_per_channel, clipped_ste>;  // qmax 3
  const float scales[2] = {0.1f, 1.0f};                                  // ranges 0.3 and 3
  const std::vector<float> w2 = {0.2f, 0.5f, 2.0f, 0.2f, 0.5f, 2.0f, 2.9f, 3.5f};
  std::vector<float> g2(w2.size(), -1.0f);
  P::backward(w2.data(), scales, g2.data(), 2, 4);
  REQUIRE(g2 == std::vector<float>{-1.0f, 0.0f, 0.0f, -1.0f, -1.0f, -1.0f, -1.0f, 0.0f});
}

TEST_CASE("clipped_ste with an abs-max scale passes the gradient of every weight including the largest",
          "[quant][estimator]") {
  // s = max|W| / qmax puts every weight inside [-qmax*s, qmax*s], so no
  // gradient may be zeroed, whatever the rounding of max|W| / qmax.
  using S = scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, clipped_ste>;
  using P = scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_channel, clipped_ste>;
  std::size_t zeroed = 0, tensors = 0;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const std::vector<float> w = gaussian(64, 7000 + seed, 0.3f);
    for (int per_channel_scale = 0; per_channel_scale < 2; ++per_channel_scale) {
      std::vector<float> wq(w.size()), scales(4), grad(w.size(), 1.0f);
      if (per_channel_scale) {
        P::quantize(w.data(), wq.data(), 4, 16, scales.data());
        P::backward(w.data(), scales.data(), grad.data(), 4, 16);
      } else {
        S::quantize(w.data(), wq.data(), 4, 16, scales.data());
        S::backward(w.data(), scales.data(), grad.data(), 4, 16);
      }
      ++tensors;
      zeroed += std::size_t(std::count(grad.begin(), grad.end(), 0.0f));
    }
  }
  INFO(zeroed << " gradients zeroed in " << tensors << " tensors");
  REQUIRE(zeroed == 0);
}

TEST_CASE("ste passes every gradient unchanged", "[quant][estimator]") {
  const std::vector<float> w = {0.0f, 0.1f, -5.0f, 1e6f};
  const float s = 0.01f;
  std::vector<float> grad = {1.0f, -2.0f, 3.0f, -4.0f};
  paper_4bit::backward(w.data(), &s, grad.data(), 1, w.size());
  REQUIRE(grad == std::vector<float>{1.0f, -2.0f, 3.0f, -4.0f});
  for (float v : w) REQUIRE(ste::derivative(v, s, 7.0f) == 1.0f);
}

TEST_CASE("float32_scheme's quantize is the identity", "[quant][float32]") {
  std::vector<float> w = gaussian(300, 8, 10.0f);
  w[0] = 0.0f;
  w[1] = 1e30f;
  w[2] = -1e-30f;
  w[3] = 0.1234567f;
  const quantized q = quantize<float32_scheme>(w, 3);
  REQUIRE(q.scales.size() == 1);
  REQUIRE(q.scales[0] == 1.0f);
  REQUIRE(q.values == w);
  std::vector<float> grad(w.size(), 0.5f);
  float scale = 1.0f;
  float32_scheme::backward(w.data(), &scale, grad.data(), 3, 100);
  REQUIRE(std::all_of(grad.begin(), grad.end(), [](float g) { return g == 0.5f; }));
  STATIC_REQUIRE(!float32_scheme::quantized);
}
