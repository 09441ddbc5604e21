// Model files: a deployed network saved and loaded computes bit for bit what
// it computed before; another network, a damaged, truncated or forged file
// is refused in words; VGG4bit with 4-bit weights stays near 1.6 MB.
#include <catch2/catch.hpp>

#include <nibble/data/cifar.hpp>
#include <nibble/deploy/convert.hpp>
#include <nibble/io/checkpoint.hpp>
#include <nibble/io/model_file.hpp>
#include <nibble/layers/depthwise_conv2d.hpp>
#include <nibble/layers/global_avg_pool.hpp>
#include <nibble/layers/max_pool2d.hpp>
#include <nibble/layers/relu.hpp>
#include <nibble/net/residual.hpp>
#include <nibble/net/vgg4bit.hpp>
#include <nibble/quant/presets.hpp>
#include <nibble/train/optimizer.hpp>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "deploy_fixtures.hpp"
#include "reseal.hpp"
#include "training_fixtures.hpp"

using namespace nibble;
namespace fs = std::filesystem;

namespace {

template <class S>
using trained_net = sequential<input<3, 8, 8>, conv2d<6, 3, S>, batch_norm_relu, max_pool2d<2>, conv2d<5, 3, S>,
                               batch_norm, relu, global_avg_pool, linear<3, S>>;
template <class S>
using deployed_net = deploy::deployed_t<trained_net<S>>;

const model_info example_info{"tiny", {{"epochs", "3"}, {"seed", "1"}}};
const data::normalisation example_normalisation{{0.5f, 0.4f, 0.3f}, {0.2f, 0.25f, 0.3f}};

template <class S>
std::unique_ptr<deployed_net<S>> example_deployed(std::uint64_t seed = 1) {
  auto net = std::make_unique<trained_net<S>>();
  std::mt19937_64 rng(seed);
  net->init(rng);
  std::uniform_real_distribution<float> u(0.5f, 1.5f);
  net->visit_parameters([&](parameter& p) {
    if (p.role != parameter_role::weight)
      for (auto& v : p.value) v = u(rng) - (p.role == parameter_role::bias ? 1.0f : 0.0f);
  });
  if constexpr (S::quantizes_activations) {  // input ranges from one training batch
    context train;
    activation x({4, 3, 8, 8});
    std::normal_distribution<float> normal;
    for (auto& v : x) v = normal(rng);
    net->forward(x, train);
  }
  return deploy::convert(*net, example_normalisation);
}

template <class S>
std::vector<std::byte> example_file() {
  return encode_model(*example_deployed<S>(), example_info);
}

image_batch example_input(std::size_t n) { return fixtures::random_images<input<3, 8, 8>>(n, 3); }

// The offset just past the first text field (u64 length, then the text)
// that holds `text` in `bytes`.
std::size_t end_of_text_field(const std::vector<std::byte>& bytes, const std::string& text) {
  std::vector<std::byte> field(8);
  for (std::size_t i = 0; i < 8; ++i) field[i] = std::byte(std::uint8_t(text.size() >> (8 * i)));
  for (char c : text) field.push_back(std::byte(c));
  const auto it = std::search(bytes.begin(), bytes.end(), field.begin(), field.end());
  REQUIRE(it != bytes.end());
  return std::size_t(it - bytes.begin()) + field.size();
}

}  // namespace

TEST_CASE("a model file round trip gives a network that computes bit for bit the same", "[model_file]") {
  const fs::path dir = fixtures::fresh_folder("model_round_trip");
  auto deployed = example_deployed<paper_4bit>();
  save_model(dir / "tiny.nibble", *deployed, example_info);

  model_info info;
  auto loaded = load_model<deployed_net<paper_4bit>>(dir / "tiny.nibble", &info);
  CHECK(info.model == "tiny");
  CHECK(info.notes == example_info.notes);
  CHECK(loaded->layer<0>().normalisation() == example_normalisation);  // the image input's tensors

  context eval{mode::eval};
  const image_batch x = example_input(5);
  const activation before = deployed->forward(x, eval);
  const activation& after = loaded->forward(x, eval);
  CHECK(std::equal(before.begin(), before.end(), after.begin(), after.end()));
  CHECK(loaded->layer<1>().codes.storage() == deployed->layer<1>().codes.storage());
  fs::remove_all(dir);
}

TEST_CASE("a block with a projection shortcut round-trips through a model file, shortcut and body", "[model_file]") {
  using net = sequential<input<3, 8, 8>, conv2d<6, 3, w4a8>, batch_norm_relu,
                         residual<projection<conv2d<8, 1, w4a8, 2, 0>, batch_norm>, conv2d<8, 3, w4a8, 2>,
                                  batch_norm_relu, conv2d<8, 3, w4a8>, batch_norm>,
                         relu, global_avg_pool, linear<3, w4a8>>;
  auto deployed = deploy::convert(*fixtures::trained_looking<net>(5), example_normalisation);
  auto loaded = model_file::parse(encode_model(*deployed, example_info), "m").load<deploy::deployed_t<net>>();
  CHECK(loaded->layer<2>().shortcut().layer<0>().codes.storage() ==
        deployed->layer<2>().shortcut().layer<0>().codes.storage());
  context eval{mode::eval};
  const image_batch x = example_input(5);
  const activation before = deployed->forward(x, eval);
  const activation& after = loaded->forward(x, eval);
  CHECK(std::equal(before.begin(), before.end(), after.begin(), after.end()));
}

TEST_CASE("depthwise convolutions round-trip through a model file, integer and weight-only", "[model_file]") {
  const auto round_trip = [](auto trained) {
    using net = typename decltype(trained)::element_type;
    auto deployed = deploy::convert(*trained, example_normalisation);
    auto loaded =
        model_file::parse(encode_model(*deployed, example_info), "m").template load<deploy::deployed_t<net>>();
    CHECK(loaded->template layer<3>().codes.storage() == deployed->template layer<3>().codes.storage());
    context eval{mode::eval};
    const image_batch x = example_input(5);
    const activation before = deployed->forward(x, eval);
    const activation& after = loaded->forward(x, eval);
    CHECK(std::equal(before.begin(), before.end(), after.begin(), after.end()));
  };
  using integer = sequential<input<3, 8, 8>, conv2d<6, 3, w4a8>, batch_norm_relu, depthwise_conv2d<3, w4a8, 2>,
                             batch_norm_relu, conv2d<8, 1, w4a8, 1, 0>, batch_norm_relu, global_avg_pool,
                             linear<3, w4a8>>;
  using weight_only = sequential<input<3, 8, 8>, conv2d<6, 3, paper_4bit>, batch_norm_relu,
                                 depthwise_conv2d<3, paper_4bit, 2>, batch_norm_relu, conv2d<8, 1, paper_4bit, 1, 0>,
                                 batch_norm_relu, global_avg_pool, linear<3, paper_4bit>>;
  round_trip(fixtures::trained_looking<integer>(6));
  round_trip(fixtures::trained_looking<weight_only>(7));
}

TEST_CASE("model files of 4-bit, 8-bit and float networks hold their weights at that width", "[model_file]") {
  // 6·27 + 5·54 + 3·5 = 447 weights: 224 bytes as 4-bit pairs, 447 as bytes.
  const std::size_t four = example_file<paper_4bit>().size(), eight = example_file<int8_scheme>().size(),
                    full = example_file<float32_scheme>().size();
  CHECK(eight - four == 447 - 224);
  CHECK(full - eight == 447 * 3 - 3 * 5);  // and float tensors are called "weights", not "weight codes"
  auto loaded = model_file::parse(example_file<float32_scheme>(), "model 'f'").load<deployed_net<float32_scheme>>();
  CHECK(loaded->layer<1>().codes.size() == 6 * 27);
}

TEST_CASE("VGG4bit with 4-bit weights is a 1.6 MB model file, with 8-bit 3.3 MB", "[model_file]") {
  auto trained = std::make_unique<vgg4bit<10, paper_4bit>>();
  std::mt19937_64 rng(1);
  trained->init(rng);
  const auto norm = data::cifar_normalisation();
  const std::size_t bytes = encode_model(*deploy::convert(*trained, norm), example_info).size();
  INFO("VGG4bit W4 model file: " << bytes << " bytes");
  // 3,246,784 weights as pairs of codes, two floats per output channel.
  CHECK(bytes >= 3246784 / 2);
  CHECK(bytes <= 1'700'000);

  auto eight = std::make_unique<vgg4bit<10, int8_scheme>>();
  eight->init(rng);
  const std::size_t bytes8 = encode_model(*deploy::convert(*eight, norm), example_info).size();
  CHECK(bytes8 - bytes == 3246784 / 2);
}

TEST_CASE("a model file of another network is refused in words a user reads", "[model_file]") {
  const model_file m = model_file::parse(example_file<paper_4bit>(), "model file 'a.nibble'");
  CHECK(m.holds<deployed_net<paper_4bit>>());
  CHECK_FALSE(m.holds<deployed_net<int8_scheme>>());
  std::string message;
  try {
    m.load<deployed_net<int8_scheme>>("tiny8");
  } catch (const model_file_error& e) {
    message = e.what();
  }
  CHECK_THAT(message, Catch::Contains("'a.nibble' holds a different network") &&
                          Catch::Contains("model file: tiny, 3 classes, 4-bit weights") &&
                          Catch::Contains("program:    tiny8, 3 classes, 8-bit weights") &&
                          Catch::Contains("first difference") && Catch::Contains("1 conv2d 6 filters"));
  CHECK(message.find("nibble::") == std::string::npos);
}

TEST_CASE("a model file with any one byte changed, or truncated, is refused", "[model_file]") {
  const auto bytes = example_file<paper_4bit>();
  std::size_t refused = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto changed = bytes;
    changed[i] ^= std::byte{0x04};
    try {
      model_file::parse(std::move(changed), "m");
    } catch (const io::io_error&) {
      ++refused;
    }
  }
  CHECK(refused == bytes.size());
  for (std::size_t n = 0; n < bytes.size(); n += 1 + n / 8)
    CHECK_THROWS_WITH(model_file::parse(std::vector<std::byte>(bytes.begin(), bytes.begin() + std::ptrdiff_t(n)), "m"),
                      Catch::Contains("truncated"));
}

TEST_CASE("a checkpoint offered as a model file is refused as such", "[model_file]") {
  trained_net<paper_4bit> net;
  std::mt19937_64 rng(1);
  net.init(rng);
  adamw opt;
  const auto ckpt = encode_checkpoint(net, opt, checkpoint_run{});
  CHECK_THROWS_WITH(model_file::parse(ckpt, "m"), Catch::Contains("is a nibble checkpoint, not a model file"));
}

TEST_CASE("a forged model file with a valid checksum is refused tensor by tensor", "[model_file]") {
  const auto bytes = example_file<paper_4bit>();
  // After the role: format, rank, two dimensions, size, then the codes.
  const std::size_t codes = end_of_text_field(bytes, "weight codes");
  const std::size_t first_code = codes + 1 + 1 + 16 + 8;

  SECTION("a code outside the 15 levels") {
    auto forged = bytes;
    forged[first_code] = std::byte{0x08};  // element 0: −8
    fixtures::reseal(forged);
    CHECK_THROWS_WITH(model_file::parse(forged, "m").load<deployed_net<paper_4bit>>(),
                      Catch::Contains("layer with tensors 1 (conv2d 6 filters") &&
                          Catch::Contains("code -8 at element 0 lies outside the 15 levels of 4-bit weights"));
  }
  SECTION("another format") {
    auto forged = bytes;
    forged[codes] = std::byte{2};
    fixtures::reseal(forged);
    CHECK_THROWS_WITH(model_file::parse(forged, "m").load<deployed_net<paper_4bit>>(),
                      Catch::Contains("tensor 2 is weight codes (8-bit codes, 6x27), but the network expects weight "
                                      "codes (4-bit codes, two per byte, 6x27)"));
  }
  SECTION("another shape") {
    auto forged = bytes;
    forged[codes + 2] = std::byte{7};
    fixtures::reseal(forged);
    CHECK_THROWS_WITH(model_file::parse(forged, "m").load<deployed_net<paper_4bit>>(),
                      Catch::Contains("tensor 2 is weight codes (4-bit codes, two per byte, 7x27)"));
  }
  SECTION("a multiplier that is not a number") {
    auto forged = bytes;
    const std::size_t multiplier = end_of_text_field(bytes, "multiplier") + 1 + 1 + 8 + 8;
    for (std::size_t i = 0; i < 4; ++i) forged[multiplier + i] = std::byte{0xFF};
    fixtures::reseal(forged);
    CHECK_THROWS_WITH(model_file::parse(forged, "m").load<deployed_net<paper_4bit>>(),
                      Catch::Contains("the multiplier or offset of channel 0 is not a finite number"));
  }
  SECTION("an input std of zero") {
    auto forged = bytes;
    const std::size_t deviation = end_of_text_field(bytes, "input std") + 1 + 1 + 8 + 8;
    const float zero = 0.0f;
    std::memcpy(&forged[deviation + 4], &zero, 4);  // channel 1
    fixtures::reseal(forged);
    CHECK_THROWS_WITH(model_file::parse(forged, "m").load<deployed_net<paper_4bit>>(),
                      Catch::Contains("layer with tensors 0 (8-bit image") &&
                          Catch::Contains("the input normalisation of channel 1 (mean 0.4") &&
                          Catch::Contains("needs a finite mean and a finite std above 0"));
  }
}

TEST_CASE("a model file of format version 1 (networks that took floats) is refused with what to do",
          "[model_file]") {
  auto old = example_file<paper_4bit>();
  old[12] = std::byte{1};  // the format version, a little-endian u32 after the signature and kind
  fixtures::reseal(old);
  CHECK_THROWS_WITH(model_file::parse(old, "model file 'old.nibble'"),
                    Catch::Contains("'old.nibble': it is a model file of format version 1") &&
                        Catch::Contains("export the model again from its checkpoint"));
}

TEST_CASE("converting with a normalisation that does not fit the input is refused", "[model_file]") {
  auto net = std::make_unique<trained_net<paper_4bit>>();
  CHECK_THROWS_WITH(deploy::convert(*net, {{0.5f}, {0.2f}}),
                    Catch::Contains("takes images of 3 channels, but the normalisation has 1 means and 1 deviations"));
  CHECK_THROWS_WITH(deploy::convert(*net, {{0.5f, 0.5f, 0.5f}, {0.2f, -1.0f, 0.2f}}),
                    Catch::Contains("the input normalisation of channel 1"));
}

TEST_CASE("an integer network (W4A8) round-trips through a model file with its input grids", "[model_file]") {
  auto deployed = example_deployed<w4a8>();
  const auto bytes = encode_model(*deployed, example_info);
  auto loaded = model_file::parse(bytes, "m").load<deployed_net<w4a8>>();
  CHECK(loaded->layer<1>().input_grid == deployed->layer<1>().input_grid);
  CHECK(deployed->layer<1>().input_grid[1] > 0.0f);  // a signed input: the zero point inside the range
  context eval{mode::eval};
  const image_batch x = example_input(5);
  const activation before = deployed->forward(x, eval);
  const activation& after = loaded->forward(x, eval);
  CHECK(std::equal(before.begin(), before.end(), after.begin(), after.end()));

  SECTION("a forged zero point is refused") {
    auto forged = bytes;
    const std::size_t grid = end_of_text_field(bytes, "input grid") + 1 + 1 + 8 + 8;
    const float bad = 300.0f;
    std::memcpy(&forged[grid + 4], &bad, 4);
    fixtures::reseal(forged);
    CHECK_THROWS_WITH(model_file::parse(forged, "m").load<deployed_net<w4a8>>(),
                      Catch::Contains("the input grid's zero point 300") && Catch::Contains("from 0 to 255"));
  }
}
