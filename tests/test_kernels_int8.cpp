// The int8 product: packed operands, the AMX, VNNI and portable tiles
// against the plain reference, bit for bit, over shapes with every kind of
// edge (rows and depth not multiples of the blocks, a single column). A path
// the machine lacks runs the portable loops instead.
#include <catch2/catch.hpp>

#include <nibble/kernels/int8/implicit_conv.hpp>
#include <nibble/kernels/int8/packed_gemm.hpp>
#include <nibble/kernels/int8/reference.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

using namespace nibble::kernels::int8;

namespace {

struct problem {
  std::size_t rows, cols, depth;
  std::vector<std::int8_t> w;
  std::vector<std::uint8_t> x;
};

problem random_problem(std::size_t rows, std::size_t cols, std::size_t depth, int wmax, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> wd(-wmax, wmax), xd(0, 255);
  problem p{rows, cols, depth, std::vector<std::int8_t>(rows * depth), std::vector<std::uint8_t>(depth * cols)};
  for (auto& v : p.w) v = std::int8_t(wd(rng));
  for (auto& v : p.x) v = std::uint8_t(xd(rng));
  // Extremes, so that the largest products appear.
  p.w[0] = std::int8_t(-wmax);
  p.x[0] = 255;
  return p;
}

}  // namespace

TEST_CASE("the packed int8 product equals the reference on every kernel the machine runs", "[kernels][int8]") {
  const std::size_t shapes[][3] = {{1, 1, 1},   {8, 32, 4},    {9, 33, 5},     {64, 1024, 27},
                                   {3, 7, 2304}, {130, 70, 576}, {10, 128, 4096}, {17, 31, 3},
                                   {40, 48, 130}};
  std::uint64_t seed = 1;
  for (const auto& s : shapes) {
    for (int wmax : {7, 127}) {
      const problem p = random_problem(s[0], s[1], s[2], wmax, seed++);
      INFO("rows " << p.rows << ", cols " << p.cols << ", depth " << p.depth << ", codes up to " << wmax);
      std::vector<std::int32_t> want(p.rows * p.cols);
      gemm_reference(p.rows, p.cols, p.depth, p.w.data(), p.x.data(), want.data());

      packed_weights pw;
      pack_weights(p.w.data(), p.rows, p.depth, pw);
      for (std::size_t r = 0; r < p.rows; ++r) {
        std::int32_t sum = 0;
        for (std::size_t k = 0; k < p.depth; ++k) sum += p.w[r * p.depth + k];
        REQUIRE(pw.row_sums[r] == sum);
      }
      packed_columns px;
      pack_columns(p.depth, p.cols, [&](std::size_t k, std::uint8_t* dst) {
        std::memcpy(dst, p.x.data() + k * p.cols, p.cols);
      }, px);

      // Every int8 product this machine runs (kernels/plan.hpp), and the
      // plan's own choice.
      std::vector<nibble::kernels::int8_kernel> products = nibble::kernels::int8_products();
      products.push_back(nibble::kernels::plan_int8_product());
      for (const nibble::kernels::int8_kernel kernel : products) {
        INFO("kernel " << nibble::kernels::name(kernel) << "; AMX usable: " << amx_usable());
        // A wider output than needed: nothing beyond the columns is written.
        const std::size_t ldo = p.cols + 3;
        std::vector<std::int32_t> got(p.rows * ldo, -7);
        packed_gemm(pw, px, got.data(), ldo, kernel);
        for (std::size_t r = 0; r < p.rows; ++r) {
          for (std::size_t c = 0; c < p.cols; ++c) REQUIRE(got[r * ldo + c] == want[r * p.cols + c]);
          for (std::size_t c = p.cols; c < ldo; ++c) REQUIRE(got[r * ldo + c] == -7);
        }
      }
    }
  }
}

TEST_CASE("the implicit convolution on AMX tiles and on VNNI gives the sums of the convolution itself",
          "[kernels][int8]") {
  // 64 and 128 channels, square and wide images, 3×3 and 1×1 filters, with
  // the zero-point code in the padding.
  const implicit_conv_shape shapes[] = {{64, 8, 8, 3, 1, 32}, {128, 4, 6, 3, 1, 64}, {64, 5, 5, 1, 0, 32}};
  for (const auto& s : shapes) {
    INFO("channels " << s.channels << ", " << s.height << "x" << s.width << ", kernel " << s.kernel << ", filters "
                     << s.filters << "; AMX usable: " << amx_usable());
    std::mt19937_64 rng(s.channels + s.height);
    std::uniform_int_distribution<int> wd(-8, 7), xd(0, 255);
    const std::size_t taps = s.kernel * s.kernel;
    std::vector<std::int8_t> w(s.filters * s.channels * taps);
    for (auto& v : w) v = std::int8_t(wd(rng));
    std::vector<std::uint8_t> plain(s.channels * s.height * s.width);  // c, y, x
    for (auto& v : plain) v = std::uint8_t(xd(rng));
    plain[0] = 255;
    w[0] = -8;
    const std::uint8_t zero = 17;

    // The padded channels-last image the kernel reads, slack included.
    const std::size_t wp = s.padded_width();
    std::vector<std::uint8_t> image(s.input_pixels() * s.channels, zero);
    for (std::size_t c = 0; c < s.channels; ++c)
      for (std::size_t y = 0; y < s.height; ++y)
        for (std::size_t x = 0; x < s.width; ++x)
          image[((y + s.padding) * wp + x + s.padding) * s.channels + c] = plain[(c * s.height + y) * s.width + x];
    // pad_image frames the channels-last pixels the same way.
    std::vector<std::uint8_t> pixels(plain.size()), padded(image.size(), 0);
    for (std::size_t c = 0; c < s.channels; ++c)
      for (std::size_t p = 0; p < s.height * s.width; ++p)
        pixels[p * s.channels + c] = plain[c * s.height * s.width + p];
    pad_image(pixels.data(), s, zero, padded.data());
    REQUIRE(padded == image);

    std::vector<std::int32_t> expected(s.positions() * s.filters);
    implicit_conv_reference(image.data(), w.data(), s, expected.data());
    // The reference against the convolution written out on the unpadded image.
    for (std::size_t f = 0; f < s.filters; ++f)
      for (std::size_t oy = 0; oy < s.out_height(); ++oy)
        for (std::size_t ox = 0; ox < s.out_width(); ++ox) {
          std::int32_t sum = 0;
          for (std::size_t c = 0; c < s.channels; ++c)
            for (std::size_t ky = 0; ky < s.kernel; ++ky)
              for (std::size_t kx = 0; kx < s.kernel; ++kx) {
                const long y = long(oy + ky) - long(s.padding), x = long(ox + kx) - long(s.padding);
                const bool inside = y >= 0 && y < long(s.height) && x >= 0 && x < long(s.width);
                const int code = inside ? plain[(c * s.height + std::size_t(y)) * s.width + std::size_t(x)] : zero;
                sum += w[((f * s.channels + c) * s.kernel + ky) * s.kernel + kx] * code;
              }
          REQUIRE(expected[(oy * wp + ox) * s.filters + f] == sum);
        }

    implicit_conv_weights packed;
    pack_implicit_conv_weights(w.data(), s, packed);
#if NIBBLE_ISA_AVX512_VNNI
    {
      std::vector<std::int32_t> sums(s.positions() * s.filters, -1);
      implicit_conv_vnni(image.data(), packed, 0, s.positions(), sums.data());
      CHECK(sums == expected);
      if (s.positions() > 32) {  // a range of positions
        std::vector<std::int32_t> part((s.positions() - 32) * s.filters, -1);
        implicit_conv_vnni(image.data(), packed, 32, s.positions(), part.data());
        CHECK(std::equal(part.begin(), part.end(), expected.begin() + 32 * std::ptrdiff_t(s.filters)));
      }
    }
#endif
#if NIBBLE_ISA_AMX_INT8
    if (amx_usable()) {
      std::vector<std::int32_t> sums(s.positions() * s.filters, -1);
      implicit_conv_amx(image.data(), packed, sums.data());
      CHECK(sums == expected);
      // A range of positions: the sums from its first block on.
      if (s.positions() > 32) {
        std::vector<std::int32_t> part((s.positions() - 32) * s.filters, -1);
        implicit_conv_amx(image.data(), packed, 32, s.positions(), part.data());
        CHECK(std::equal(part.begin(), part.end(), expected.begin() + 32 * std::ptrdiff_t(s.filters)));
      }
    }
#endif
  }
  implicit_conv_weights refused;
  const std::int8_t none[1] = {};
  CHECK_THROWS_WITH(pack_implicit_conv_weights(none, {48, 4, 4, 3, 1, 32}, refused),
                    Catch::Contains("multiples of 64"));
}
