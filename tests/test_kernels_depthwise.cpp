// The depthwise convolution kernel (kernels/depthwise_conv.hpp) against the
// convolution's definition, forward and backward: on small integer operands
// every sum is exact, so they agree bit for bit, for square and odd sizes,
// strides 1 and 2, padding 0, K/2 and beyond, and with one thread or two.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "nibble/kernels/depthwise_conv.hpp"
#include "nibble/kernels/parallel.hpp"
#include "convolution_reference.hpp"

using namespace nibble;
using kernels::conv_geometry;

namespace {

std::vector<float> small_integers(std::size_t n, int largest, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-largest, largest);
  std::vector<float> v(n);
  for (auto& e : v) e = float(d(rng));
  return v;
}

void check_depthwise(const conv_geometry& g) {
  INFO("channels " << g.channels << ", " << g.height << "x" << g.width << ", kernel " << g.kernel << ", stride "
                   << g.stride << ", padding " << g.padding);
  const std::size_t batch = 3, out = g.out_height() * g.out_width();
  std::mt19937 rng(unsigned(g.channels * 31 + g.width * 7 + g.stride + g.kernel));
  const auto x = small_integers(batch * g.channels * g.height * g.width, 3, rng);
  const auto w = small_integers(g.channels * g.kernel * g.kernel, 7, rng);
  const auto bias = small_integers(g.channels, 7, rng);
  const auto dy = small_integers(batch * g.channels * out, 3, rng);
  const fixtures::reference want = fixtures::convolve(g, g.channels, batch, x, w, bias, dy, g.channels);

  std::vector<float> y(want.y.size(), -99.0f), dw(w.size(), -99.0f), db(g.channels, -99.0f), dx(x.size(), -99.0f);
  kernels::depthwise_forward(g, batch, x.data(), w.data(), bias.data(), y.data());
  CHECK(y == want.y);
  kernels::depthwise_backward(g, batch, x.data(), w.data(), dy.data(), dw.data(), db.data(), dx.data());
  CHECK(dw == want.dw);
  CHECK(dx == want.dx);
  for (std::size_t c = 0; c < g.channels; ++c) {
    float sum = 0.0f;
    for (std::size_t n = 0; n < batch; ++n)
      for (std::size_t i = 0; i < out; ++i) sum += dy[(n * g.channels + c) * out + i];
    CHECK(db[c] == sum);
  }
  // Without a bias the sums start at zero; without dx only the weights' gradient.
  kernels::depthwise_forward(g, batch, x.data(), w.data(), nullptr, y.data());
  for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(y[i] == want.y[i] - bias[(i / out) % g.channels]);
  std::vector<float> dw2(w.size(), -99.0f);
  kernels::depthwise_backward(g, batch, x.data(), w.data(), dy.data(), dw2.data(), db.data(), nullptr);
  CHECK(dw2 == want.dw);
}

}  // namespace

TEST_CASE("the depthwise kernel gives the depthwise convolution, forward and backward", "[kernels][depthwise]") {
  const int threads = kernels::max_threads();
  for (int t : {1, threads}) {
    kernels::set_threads(t);
    check_depthwise({4, 6, 6, 3, 1, 1});
    check_depthwise({5, 7, 7, 3, 2, 1});    // odd size, stride 2
    check_depthwise({3, 8, 8, 3, 2, 1});    // even size, stride 2 (MobileNet's downsampling)
    check_depthwise({2, 7, 5, 3, 1, 0});    // no padding, not square
    check_depthwise({2, 6, 6, 5, 1, 2});    // 5x5
    check_depthwise({3, 5, 5, 3, 1, 2});    // padding beyond K/2
    check_depthwise({2, 9, 9, 5, 2, 2});
    check_depthwise({16, 32, 32, 3, 1, 1});  // rows long enough for vector loops
  }
  kernels::set_threads(threads);
}
