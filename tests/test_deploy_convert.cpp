// Deployment: weight codes packed and unpacked, and deployed networks that
// compute what the trained network's eval forward computes, with the codes
// the trained forward pass used.
#include <catch2/catch.hpp>

#include <nibble/deploy/convert.hpp>
#include <nibble/layers/depthwise_conv2d.hpp>
#include <nibble/layers/flatten.hpp>
#include <nibble/layers/global_avg_pool.hpp>
#include <nibble/layers/max_pool2d.hpp>
#include <nibble/layers/relu.hpp>
#include <nibble/net/describe.hpp>
#include <nibble/quant/presets.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "deploy_fixtures.hpp"

using namespace nibble;

namespace {

template <class S>
using plain_net = sequential<input<3, 16, 16>, conv2d<8, 3, S>, batch_norm_relu, conv2d<8, 3, S, 2>, batch_norm, relu,
                             max_pool2d<2>, flatten, linear<16, S>, batch_norm_relu, dropout<0.5f>, linear<10, S>>;
// Integer convolutions that hand each other codes, through a max pool.
template <class S>
using pooled_net = sequential<input<3, 16, 16>, conv2d<8, 3, S>, batch_norm_relu, max_pool2d<2>, conv2d<16, 3, S>,
                              batch_norm_relu, max_pool2d<2>, conv2d<8, 3, S>, batch_norm_relu, flatten, linear<10, S>>;
// Shaped for the pixel-major kernels (filters in multiples of 32): the first
// convolution lowered from the image input's codes; the second and third
// implicit (codes in, 64 channels, stride 1), the second handing codes
// through a pool; the fourth lowered from codes (32 channels, stride 2),
// handing floats on.
template <class S>
using wide_net =
    sequential<input<3, 8, 8>, conv2d<64, 3, S>, batch_norm_relu, conv2d<64, 3, S>, batch_norm_relu, max_pool2d<2>,
               conv2d<32, 3, S>, batch_norm_relu, conv2d<32, 3, S, 2>, batch_norm_relu, flatten, linear<10, S>>;
// A pixel-major convolution lowered from floats (a batch norm before it).
template <class S>
using normed_wide_net =
    sequential<input<3, 8, 8>, batch_norm, conv2d<32, 3, S>, batch_norm_relu, flatten, linear<10, S>>;
template <class S>
using residual_net = sequential<input<3, 16, 16>, batch_norm, conv2d<8, 3, S>, batch_norm_relu,
                                residual<conv2d<8, 3, S>, batch_norm_relu, conv2d<8, 3, S>, batch_norm>, relu,
                                conv2d<16, 3, S, 2>, global_avg_pool, linear<10, S>>;
// Blocks with projection shortcuts: 8 to 16 channels at stride 2 (a strided
// 1x1 convolution and batch norm), and one without a batch norm (its bias).
template <class S>
using projection_net =
    sequential<input<3, 16, 16>, conv2d<8, 3, S>, batch_norm_relu,
               residual<projection<conv2d<16, 1, S, 2, 0>, batch_norm>, conv2d<16, 3, S, 2>, batch_norm_relu,
                        conv2d<16, 3, S>, batch_norm>,
               relu, residual<projection<conv2d<12, 1, S, 1, 0>>, conv2d<12, 3, S>, batch_norm>, relu, global_avg_pool,
               linear<10, S>>;

// Depthwise-separable blocks (depthwise then pointwise), at stride 1 and 2,
// handing codes both ways; the last pointwise hands floats to the pooling.
template <class S>
using separable_net =
    sequential<input<3, 12, 12>, conv2d<8, 3, S>, batch_norm_relu, depthwise_conv2d<3, S>, batch_norm_relu,
               conv2d<16, 1, S, 1, 0>, batch_norm_relu, depthwise_conv2d<3, S, 2>, batch_norm_relu,
               conv2d<16, 1, S, 1, 0>, batch_norm_relu, global_avg_pool, linear<10, S>>;

using per_channel_4bit = scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_channel, ste>;

// Trained-looking values: weights from init, then every bias, batch-norm
// parameter and running statistic drawn, so that folding has work to do.
template <class Net>
void randomise(Net& net, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  net.init(rng);
  std::uniform_real_distribution<float> u(0.5f, 1.5f), centred(-0.5f, 0.5f);
  net.visit_parameters([&](parameter& p) {
    if (p.role != parameter_role::weight)
      for (auto& v : p.value) v = p.role == parameter_role::bias ? centred(rng) : u(rng);
  });
  int k = 0;
  net.visit_buffers([&](xt::xtensor<float, 1>& b) {  // running mean, then running variance, per layer
    for (auto& v : b) v = k % 2 == 0 ? centred(rng) : u(rng);
    ++k;
  });
}


struct agreement {
  float max_difference = 0, max_logit = 0;
  std::size_t same_top1 = 0, samples = 0;
};

// The trained network on the images as training feeds them, and the
// deployed network on their bytes.
template <class Net>
agreement compare_with_deployed(Net& net, const image_batch& images) {
  const auto norm = fixtures::test_normalisation(Net::input_shape::channels);
  context eval{mode::eval};
  const activation trained = net.forward(fixtures::normalised(images, norm), eval);
  auto deployed = deploy::convert(net, norm);
  const activation& out = deployed->forward(images, eval);
  REQUIRE(out.shape() == trained.shape());
  agreement a;
  const std::size_t n = images.shape(0), classes = trained.shape(1);
  a.samples = n;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t best_t = 0, best_d = 0;
    for (std::size_t c = 0; c < classes; ++c) {
      a.max_difference = std::max(a.max_difference, std::fabs(trained(i, c, 0, 0) - out(i, c, 0, 0)));
      a.max_logit = std::max(a.max_logit, std::fabs(trained(i, c, 0, 0)));
      if (trained(i, c, 0, 0) > trained(i, best_t, 0, 0)) best_t = c;
      if (out(i, c, 0, 0) > out(i, best_d, 0, 0)) best_d = c;
    }
    a.same_top1 += best_t == best_d;
  }
  return a;
}

template <class Net>
void check_agrees_in_fp32(std::uint64_t seed) {
  auto net = std::make_unique<Net>();
  randomise(*net, seed);
  const auto a = compare_with_deployed(*net, fixtures::random_images<typename Net::input_shape>(64, seed + 1));
  INFO("largest logit " << a.max_logit << ", largest difference " << a.max_difference);
  CHECK(a.max_logit > 0.1f);
  CHECK(a.max_difference <= 1e-4f * std::max(1.0f, a.max_logit));
  CHECK(a.same_top1 == a.samples);
}

}  // namespace

TEST_CASE("4-bit codes are packed two per byte, low nibble first, and unpack to the same codes", "[deploy]") {
  deploy::weight_codes<bits<4>> codes(31);  // odd: the last byte is half used
  REQUIRE(codes.storage().size() == 16);
  for (std::size_t i = 0; i < 31; ++i) codes.set_code(i, int(i % 15) - 7);
  for (std::size_t i = 0; i < 31; ++i) CHECK(codes.code(i) == int(i % 15) - 7);
  CHECK(std::uint8_t(codes.storage()[0]) == 0xA9);  // −7 = 0x9 low, −6 = 0xA high
  std::vector<float> decoded(31);
  codes.decode(decoded.data());
  for (std::size_t i = 0; i < 31; ++i) CHECK(decoded[i] == float(int(i % 15) - 7));
  CHECK(codes.fault().empty());
}

TEST_CASE("8-bit and 3-bit codes round-trip, float weights are kept as they are", "[deploy]") {
  deploy::weight_codes<bits<8>> c8(255);
  for (int i = 0; i < 255; ++i) c8.set_code(std::size_t(i), i - 127);
  std::vector<float> d8(255);
  c8.decode(d8.data());
  for (int i = 0; i < 255; ++i) CHECK(d8[std::size_t(i)] == float(i - 127));
  CHECK(deploy::weight_codes<bits<8>>::format == deploy::code_format::int8);

  deploy::weight_codes<bits<3>> c3(7);  // 3 bits are stored as nibbles
  CHECK(deploy::weight_codes<bits<3>>::format == deploy::code_format::int4_pairs);
  for (int i = 0; i < 7; ++i) c3.set_code(std::size_t(i), i - 3);
  for (int i = 0; i < 7; ++i) CHECK(c3.code(std::size_t(i)) == i - 3);

  deploy::weight_codes<full_precision> f(3);
  f.set_value(1, -2.5f);
  std::vector<float> df(3);
  f.decode(df.data());
  CHECK(df == std::vector<float>{0.0f, -2.5f, 0.0f});
}

TEST_CASE("codes outside the levels and a used padding nibble are reported", "[deploy]") {
  deploy::weight_codes<bits<4>> codes(3);
  codes.set_code(1, -8);  // the one 4-bit pattern that is not one of the 15 levels
  CHECK(codes.fault() == "code -8 at element 1 lies outside the 15 levels of 4-bit weights");
  codes.set_code(1, 7);
  CHECK(codes.fault().empty());
  codes.storage()[1] |= std::byte{0x10};  // the high nibble of the last byte belongs to no element
  CHECK(codes.fault() == "the unused last half-byte is not zero");

  deploy::weight_codes<bits<3>> c3(2);
  c3.set_code(0, 4);
  CHECK(c3.fault() == "code 4 at element 0 lies outside the 7 levels of 3-bit weights");

  deploy::weight_codes<bits<8>> c8(1);
  c8.set_code(0, -128);
  CHECK(!c8.fault().empty());
  deploy::weight_codes<full_precision> f(1);
  f.set_value(0, std::nanf(""));
  CHECK(f.fault() == "weight 0 is not a finite number");
}

TEST_CASE("a deployed network's types: batch norms folded, dropout gone, blocks kept", "[deploy]") {
  using D = deploy::deployed_t<plain_net<paper_4bit>>;
  STATIC_REQUIRE(D::size == 8);  // image, conv+bnrelu, conv+bn, relu, pool, flatten, linear+bnrelu, linear
  STATIC_REQUIRE(std::is_same_v<typename D::input_tensor, image_batch>);  // it takes the image's bytes
  STATIC_REQUIRE(std::is_same_v<typename D::output_shape, shape<10, 1, 1>>);
  const auto text = describe_network<D>().text();
  CHECK(text.find("dropout") == std::string::npos);
  CHECK(text.find("batch_norm") == std::string::npos);
  CHECK(text.find("4-bit weight codes") != std::string::npos);
  // 10 classes, 4-bit weights: the summary reads as the trained one's does.
  CHECK(describe_network<D>().summary.rfind("10 classes, 4-bit weights, float activations, fp32 arithmetic", 0) == 0);

  using R = deploy::deployed_t<residual_net<paper_4bit>>;
  STATIC_REQUIRE(R::size == 8);  // image, affine, conv+bnrelu, residual, relu, conv, pool, linear
  CHECK(describe_network<R>().text().find("per-channel affine (batch norm)") != std::string::npos);

  // A projection block keeps its shortcut, deployed as a chain of its own.
  using P = deploy::deployed_t<projection_net<paper_4bit>>;
  using B = std::remove_cvref_t<decltype(std::declval<P&>().layer<2>())>;
  STATIC_REQUIRE(B::shortcut_type::size == 1);  // the 1x1 convolution, its batch norm folded
  STATIC_REQUIRE(B::body_type::size == 2);
  STATIC_REQUIRE(std::is_same_v<typename B::output_shape, shape<16, 8, 8>>);
}

TEST_CASE("deployed codes are the codes the trained forward pass multiplies with", "[deploy]") {
  auto net = std::make_unique<plain_net<per_channel_4bit>>();
  randomise(*net, 7);
  context eval{mode::eval};
  net->forward(fixtures::random_batch<input<3, 16, 16>>(2, 8), eval);  // fills each layer's quantized copy
  auto deployed = deploy::convert(*net, fixtures::test_normalisation(3));
  const auto& trained = net->layer<0>();
  const auto& conv = deployed->layer<1>();
  std::set<int> distinct;
  for (std::size_t r = 0; r < 8; ++r)
    for (std::size_t c = 0; c < 27; ++c) {
      const std::size_t i = r * 27 + c;
      const int code = conv.codes.code(i);
      distinct.insert(code);
      REQUIRE(float(code) * trained.scales()[r] == trained.quantized_weights()[i]);
    }
  CHECK(distinct.size() > 10);
  CHECK(*distinct.rbegin() == 7);  // abs-max per channel: some code reaches the top level
  // The batch norm after it is folded: multiplier = γ/√(σ²+ε) · scale.
  const auto& bn = net->layer<1>();
  const float a = bn.gamma.value(3) / std::sqrt(bn.running_var(3) + bn.epsilon);
  CHECK(conv.epilogue.multiplier[3] == Approx(a * trained.scales()[3]).epsilon(1e-6));
}

TEST_CASE("a deployed network computes the trained network's eval forward (fp32 products)", "[deploy]") {
  check_agrees_in_fp32<plain_net<paper_4bit>>(11);
  check_agrees_in_fp32<plain_net<per_channel_4bit>>(12);
  check_agrees_in_fp32<plain_net<int8_scheme>>(13);
  check_agrees_in_fp32<plain_net<float32_scheme>>(14);
  check_agrees_in_fp32<residual_net<paper_4bit>>(15);
  check_agrees_in_fp32<residual_net<float32_scheme>>(16);
  check_agrees_in_fp32<projection_net<paper_4bit>>(19);
  check_agrees_in_fp32<projection_net<float32_scheme>>(20);
  check_agrees_in_fp32<separable_net<paper_4bit>>(21);
  check_agrees_in_fp32<separable_net<per_channel_4bit>>(22);
  check_agrees_in_fp32<plain_net<scheme<bits<4>, no_clip, learned_step, clipped_ste>>>(17);
  check_agrees_in_fp32<plain_net<scheme<bits<4>, no_clip, percentile_per_channel<99.0f>, ste>>>(18);
}

TEST_CASE("with bf16 products the deployed network stays close to the trained one", "[deploy]") {
  // Training rounds code·scale to bf16; deployment multiplies the exact code
  // and applies the scale in fp32 after the sum, so they differ by bf16
  // rounding of the weights (about 2^-9 relative), not more.
  auto net = std::make_unique<plain_net<paper_4bit_bf16>>();
  randomise(*net, 21);
  const auto a = compare_with_deployed(*net, fixtures::random_images<input<3, 16, 16>>(64, 22));
  INFO("largest logit " << a.max_logit << ", largest difference " << a.max_difference);
  CHECK(a.max_difference <= 0.02f * std::max(1.0f, a.max_logit));
  CHECK(a.same_top1 >= a.samples - 2);
}

// ---------------------------------------------------------------------------
// Integer networks (schemes that quantize activations)

namespace {


template <class Net, class Deployed>
void require_bit_exact_batch(Net& net, Deployed& deployed, const image_batch& images) {
  context eval{mode::eval};
  const auto norm = deployed.template layer<0>().normalisation();
  const activation trained = net.forward(fixtures::normalised(images, norm), eval);
  const activation& out = deployed.forward(images, eval);
  REQUIRE(out.shape() == trained.shape());
  std::size_t equal = 0;
  for (std::size_t i = 0; i < out.size(); ++i) equal += out.data()[i] == trained.data()[i];
  INFO(equal << " of " << out.size() << " logits equal");
  REQUIRE(equal == out.size());
  // The logits are not trivially equal (all zero, or one value).
  const auto [lo, hi] = std::minmax_element(out.begin(), out.end());
  REQUIRE(*hi - *lo > 0.1f);
}

// Batches of 16 (threads take whole images) and of 1 (threads share the
// image's product).
template <class Net>
void require_bit_exact_deployment(std::uint64_t seed) {
  auto net = fixtures::trained_looking<Net>(seed);
  auto deployed = deploy::convert(*net, fixtures::test_normalisation(Net::input_shape::channels));
  // On every int8 product the machine runs (kernels/plan.hpp), each with
  // the layouts it takes.
  const kernels::kernel_limits before = kernels::current_kernel_limits();
  for (const kernels::int8_kernel product : kernels::int8_products()) {
    kernels::kernel_limits limited = before;
    limited.fastest_int8 = product;
    kernels::set_kernel_limits(limited);
    INFO("int8 product: " << kernels::name(product));
    for (std::size_t batch : {16, 1}) {
      INFO("batch " << batch);
      require_bit_exact_batch(*net, *deployed, fixtures::random_images<typename Net::input_shape>(batch, seed + 100));
    }
  }
  kernels::set_kernel_limits(before);
}

}  // namespace

TEST_CASE("an integer deployed network's types: integer layers with their batch norms folded", "[deploy][integer]") {
  using D = deploy::deployed_t<plain_net<w4a8>>;
  // The image input hands the first convolution codes on its grid, from a
  // table; the first convolution hands the second its codes (nothing but
  // its batch norm between them); the second hands floats to the relu.
  using I = std::remove_cvref_t<decltype(std::declval<D&>().layer<0>())>;
  using L0 = std::remove_cvref_t<decltype(std::declval<D&>().layer<1>())>;
  using L1 = std::remove_cvref_t<decltype(std::declval<D&>().layer<2>())>;
  static_assert(std::is_same_v<I, deploy::image_input_layer<input<3, 16, 16>, deploy::codes_out>>);
  static_assert(std::is_same_v<L0, deploy::integer_conv2d_layer<input<3, 16, 16>, 8, 3, bits<4>, activation_bits<8>,
                                                                 1, 1, deploy::folded_norm, deploy::with_relu,
                                                                 deploy::codes_in, deploy::codes_out>>);
  static_assert(L1::codes_in && !L1::codes_out);
  static_assert(std::is_same_v<typename L1::input_tensor, code_activation>);
  static_assert(std::is_same_v<typename L1::output_tensor, activation>);

  // Through max pools, the pools pool codes; the last convolution, before
  // flatten, hands on floats.
  using P = deploy::deployed_t<pooled_net<w4a8>>;
  using P1 = std::remove_cvref_t<decltype(std::declval<P&>().layer<2>())>;
  using P4 = std::remove_cvref_t<decltype(std::declval<P&>().layer<5>())>;
  static_assert(std::is_same_v<P1, deploy::code_max_pool2d_layer<shape<8, 16, 16>, 2>>);
  static_assert(std::is_same_v<P4, deploy::integer_conv2d_layer<shape<16, 4, 4>, 8, 3, bits<4>, activation_bits<8>,
                                                                 1, 1, deploy::folded_norm, deploy::with_relu,
                                                                 deploy::codes_in>>);
  // Depthwise convolutions take and hand on codes like the others: from the
  // stem, to the pointwise convolution after them.
  using S = deploy::deployed_t<separable_net<w4a8>>;
  using S2 = std::remove_cvref_t<decltype(std::declval<S&>().layer<2>())>;
  static_assert(std::is_same_v<S2, deploy::integer_depthwise_conv2d_layer<shape<8, 12, 12>, 3, bits<4>,
                                                                          activation_bits<8>, 1, 1, deploy::folded_norm,
                                                                          deploy::with_relu, deploy::codes_in,
                                                                          deploy::codes_out>>);
  using W = deploy::deployed_t<separable_net<paper_4bit>>;
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(std::declval<W&>().layer<2>())>,
                               deploy::depthwise_conv2d_layer<shape<8, 12, 12>, 3, bits<4>, fp32_arithmetic, 1, 1,
                                                              deploy::with_relu>>);
  // A model file describes the network, not how its layers hand values on.
  CHECK(describe_network<P>().text().find("max_pool2d 2x2") != std::string::npos);
  const std::string summary = describe_network<D>().summary;
  CHECK(summary.rfind("10 classes, 4-bit weights, 8-bit activations, int8 arithmetic", 0) == 0);
}

TEST_CASE("an integer deployed network computes the trained eval forward bit for bit", "[deploy][integer]") {
  SECTION("W4A8, plain") { require_bit_exact_deployment<plain_net<w4a8>>(301); }
  SECTION("W4A4, plain") { require_bit_exact_deployment<plain_net<w4a4>>(302); }
  SECTION("W8A8, plain") { require_bit_exact_deployment<plain_net<w8a8>>(303); }
  SECTION("W4A8 per-channel, plain") {
    require_bit_exact_deployment<plain_net<with_activations_t<per_channel_4bit, activation_bits<8>>>>(304);
  }
  SECTION("W4A8, residual") { require_bit_exact_deployment<residual_net<w4a8>>(305); }
  SECTION("W4A8, residual blocks with projection shortcuts") {
    require_bit_exact_deployment<projection_net<w4a8>>(309);
  }
  SECTION("W4A8, codes handed on through max pools") { require_bit_exact_deployment<pooled_net<w4a8>>(307); }
  SECTION("W4A4, codes handed on through max pools") { require_bit_exact_deployment<pooled_net<w4a4>>(308); }
  SECTION("W4A8, convolutions on the pixel-major kernels") {
    using D = deploy::deployed_t<wide_net<w4a8>>;
    using L0 = std::remove_cvref_t<decltype(std::declval<D&>().layer<1>())>;
    using L1 = std::remove_cvref_t<decltype(std::declval<D&>().layer<2>())>;
    using L3 = std::remove_cvref_t<decltype(std::declval<D&>().layer<4>())>;
    using L4 = std::remove_cvref_t<decltype(std::declval<D&>().layer<5>())>;
    static_assert(L0::pixel_major && !L0::implicit_shape && L1::implicit_shape && L3::implicit_shape);
    static_assert(L4::pixel_major && !L4::implicit_shape && L4::codes_in && !L4::codes_out);
    require_bit_exact_deployment<wide_net<w4a8>>(313);
  }
  SECTION("W4A4, convolutions on the pixel-major kernels") { require_bit_exact_deployment<wide_net<w4a4>>(314); }
  SECTION("W4A8, a pixel-major convolution lowered from floats") {
    using D = deploy::deployed_t<normed_wide_net<w4a8>>;
    using L = std::remove_cvref_t<decltype(std::declval<D&>().layer<2>())>;
    static_assert(L::pixel_major && !L::codes_in);
    require_bit_exact_deployment<normed_wide_net<w4a8>>(315);
  }
  SECTION("W4A8, an unpadded 5x5 and a 1x1 convolution, no batch norm after the second") {
    using net = sequential<input<3, 12, 12>, conv2d<6, 5, w4a8, 1, 0>, batch_norm_relu, conv2d<4, 1, w4a8>, relu,
                           global_avg_pool, linear<3, w4a8>>;
    require_bit_exact_deployment<net>(307);
  }
  SECTION("W4A8 with bf16 training products") {
    require_bit_exact_deployment<plain_net<with_arithmetic_t<w4a8, bf16_arithmetic>>>(306);
  }
  SECTION("W4A8 with learned steps (LSQ), trained with stochastic rounding") {
    using lsq_w4a8 = scheme<bits<4>, no_clip, learned_step_per_channel, clipped_ste, activation_bits<8>,
                            stochastic_rounding>;
    require_bit_exact_deployment<plain_net<lsq_w4a8>>(309);
  }
  SECTION("W4A4 with learned weight and input steps (LSQ)") { require_bit_exact_deployment<pooled_net<lsq_w4a4>>(311); }
  SECTION("W4A4 with learned input clip levels (PACT)") { require_bit_exact_deployment<pooled_net<pact_w4a4>>(312); }
  SECTION("W4A8, depthwise-separable") { require_bit_exact_deployment<separable_net<w4a8>>(316); }
  SECTION("W4A4, depthwise-separable") { require_bit_exact_deployment<separable_net<w4a4>>(317); }
  SECTION("W8A8, depthwise-separable") { require_bit_exact_deployment<separable_net<w8a8>>(318); }
  SECTION("W4A8 with 99th-percentile scales") {
    require_bit_exact_deployment<
        plain_net<scheme<bits<4>, tanh_clip<3.0f>, percentile_per_tensor<99.0f>, ste, activation_bits<8>>>>(310);
  }
}
