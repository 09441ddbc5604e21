// The image input of deployed networks: the image's bytes become the floats
// training fed the network, or the first integer layer's codes of them,
// bit for bit.
#include <catch2/catch.hpp>

#include <nibble/data/augment.hpp>
#include <nibble/deploy/image_input.hpp>
#include <nibble/kernels/activation_codes.hpp>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "deploy_fixtures.hpp"

using namespace nibble;

namespace {

// Two images of Shape whose pixels in every channel take every byte value
// (Shape's planes hold 256 pixels), in an order that differs by channel.
template <class Shape>
image_batch every_byte_value() {
  static_assert(Shape::height * Shape::width == 256);
  image_batch x({2, Shape::channels, Shape::height, Shape::width});
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < Shape::channels; ++c)
      for (std::size_t p = 0; p < 256; ++p)
        x.data()[(n * Shape::channels + c) * 256 + p] = std::uint8_t(p * 7 + 37 * c + n);
  return x;
}

// An image input on 3 × 16 × 16 images with the test normalisation, and
// images that hold every byte value.
template <bool CodesOut>
struct image_input_case {
  using In = shape<3, 16, 16>;
  data::normalisation norm = fixtures::test_normalisation(3);
  std::conditional_t<CodesOut, deploy::image_input_layer<In, deploy::codes_out>, deploy::image_input_layer<In>> layer;
  image_batch x = every_byte_value<In>();
  context eval{mode::eval};
  image_input_case() { layer.set_normalisation(norm); }
};

}  // namespace

TEST_CASE("normalisation is one fused multiply-add, so every path computes the same floats", "[data][deploy]") {
  // The unfused v·scale + bias rounds twice and differs from the fused one
  // for some bytes; every normalised float must be the fused one.
  const auto norm = fixtures::test_normalisation(3);
  const data::image_preparation<std::uint8_t> prepare({3, 16, 16}, norm);
  const image_batch x = every_byte_value<shape<3, 16, 16>>();
  std::vector<float> floats(3 * 256);
  prepare.normalise(x.data(), floats.data());
  std::size_t unfused_differs = 0;
  for (std::size_t c = 0; c < 3; ++c) {
    const data::channel_normaliser f = data::normaliser_of<std::uint8_t>(norm, c);
    CHECK(f.scale == 1.0f / (255.0f * norm.std[c]));
    CHECK(f.bias == -norm.mean[c] / norm.std[c]);
    for (std::size_t p = 0; p < 256; ++p) {
      const float v = float(x.data()[c * 256 + p]);
      REQUIRE(floats[c * 256 + p] == std::fma(v, f.scale, f.bias));
      volatile float product = v * f.scale;  // volatile: no contraction into an fma
      unfused_differs += product + f.bias != std::fma(v, f.scale, f.bias);
    }
  }
  INFO(unfused_differs << " of 768 bytes round differently unfused");
  CHECK(unfused_differs > 0);  // the test can tell the two apart
}

TEST_CASE("the image input writes the floats training feeds the network, bit for bit", "[deploy]") {
  image_input_case<false> t;
  activation y;
  ensure_batch_shape<shape<3, 16, 16>>(y, 2);
  t.layer.forward(t.x, y, t.eval);
  const activation want = fixtures::normalised(t.x, t.norm);
  REQUIRE(y.shape() == want.shape());
  for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(y.data()[i] == want.data()[i]);
}

TEST_CASE("the image input's codes are the trained layer's codes of the normalised floats", "[deploy][integer]") {
  image_input_case<true> t;
  const activation floats = fixtures::normalised(t.x, t.norm);
  code_activation y;
  ensure_batch_shape<shape<3, 16, 16>>(y, 2);

  SECTION("without a grid it refuses to run") {
    CHECK_THROWS_AS(t.layer.forward(t.x, y, t.eval), std::logic_error);
  }
  SECTION("on two grids in turn, the table follows the grid") {
    // 8-bit codes with a zero point inside (a signed input), then 4-bit codes.
    // Both reach past the top code for the brightest bytes.
    for (const kernels::code_grid g :
         {kernels::code_grid{0.015f, 110.0f, 255.0f}, kernels::code_grid{0.3f, 8.0f, 15.0f}}) {
      INFO("step " << g.step << ", zero point " << g.zero);
      t.layer.output_grid = g;
      t.layer.forward(t.x, y, t.eval);
      // What a trained conv2d quantizing its input computes: the centred
      // code of each float, plus the zero point.
      std::vector<float> centred(floats.size());
      kernels::centered_codes(floats.data(), centred.data(), floats.size(), g);
      std::size_t lowest = 255, highest = 0;
      for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t c = 0; c < 3; ++c)
          for (std::size_t p = 0; p < 256; ++p) {
            const std::uint8_t code = y.data()[(n * 256 + p) * 3 + c];  // channels last
            REQUIRE(float(code) == centred[(n * 3 + c) * 256 + p] + g.zero);
            lowest = std::min<std::size_t>(lowest, code);
            highest = std::max<std::size_t>(highest, code);
          }
      CHECK(highest - lowest > 10);  // the grid is used, not one code everywhere
      CHECK(highest == std::size_t(g.max_code));  // and clamps at the top
    }
  }
}

TEST_CASE("the image input refuses a normalisation it cannot use", "[deploy]") {
  deploy::image_input_layer<shape<3, 4, 4>> layer;
  CHECK_THROWS_WITH(layer.set_normalisation({{0.5f, 0.5f}, {0.2f, 0.2f}}),
                    Catch::Contains("takes images of 3 channels, but the normalisation has 2 means"));
  CHECK_THROWS_WITH(layer.set_normalisation({{0.5f, 0.5f, 0.5f}, {0.2f, 0.0f, 0.2f}}),
                    Catch::Contains("the input normalisation of channel 1 (mean 0.5"));
  CHECK(layer.fault().empty());  // a refused normalisation leaves the layer as it was
  layer.std[2] = std::nanf("");
  CHECK_THAT(layer.fault(), Catch::Contains("channel 2") && Catch::Contains("a finite std above 0"));
}
