// summary(net): one row per layer with its position, description, output
// shape and parameter count; the counts add up to the network's; schemes
// are named by a letter and spelled out once below, so no line passes 100
// columns.
#include <catch2/catch.hpp>

#include <string>

#include "nibble/net/resnet20.hpp"
#include "nibble/net/ds_cnn.hpp"
#include "nibble/net/mobilenet_v1.hpp"
#include "nibble/net/resnet8.hpp"
#include "nibble/net/simple_resnet4bit.hpp"
#include "nibble/layers/max_pool2d.hpp"
#include "nibble/net/summary.hpp"
#include "nibble/quant/presets.hpp"
#include "training_fixtures.hpp"

using namespace nibble;

namespace {
std::vector<std::string> lines_of(const std::string& text) { return fixtures::lines(text); }

// The parameter column of a row, without its thousands separators.
std::size_t parameters_of(const std::string& line) {
  std::string digits;
  for (std::size_t i = line.find_last_of(' ') + 1; i < line.size(); ++i)
    if (line[i] != ',') digits += line[i];
  return std::stoul(digits);
}
}  // namespace

TEST_CASE("summary lists every layer with its output shape and parameters", "[summary]") {
  using net_type = fixtures::small_net<w4a8>;
  const net_type net;
  const auto lines = lines_of(summary(net));
  REQUIRE(lines.size() >= 2 + 1 + 6 + 1);  // summary line, header, input, six layers, the scheme
  CHECK(lines[0] == describe_network<net_type>().summary);
  CHECK(lines[1].find("layer") != std::string::npos);
  CHECK(lines[2].find("input") != std::string::npos);
  CHECK(lines[2].find("3x32x32") != std::string::npos);
  CHECK(lines[3].rfind("0 ", 0) == 0);
  CHECK(lines[3].find("conv2d") != std::string::npos);
  CHECK(lines[3].find("scheme A") != std::string::npos);
  CHECK(lines[9].rfind("scheme A: " + w4a8::describe().substr(0, 20), 0) == 0);
  std::string legend;
  for (std::size_t i = 9; i < lines.size(); ++i) legend += lines[i];
  CHECK(legend.find("8-bit") != std::string::npos);  // the activation scheme shows
  for (const auto& line : lines) CHECK(line.size() <= 100);
  CHECK(lines[3].find("4x16x16") != std::string::npos);  // stride 2
  CHECK(parameters_of(lines[3]) == 4 * 3 * 3 * 3 + 4);
  CHECK(lines[8].rfind("5 ", 0) == 0);
  CHECK(lines[8].find("linear") != std::string::npos);
  CHECK(lines[8].find("2x1x1") != std::string::npos);
  std::size_t total = 0;
  for (std::size_t i = 3; i < 9; ++i) total += parameters_of(lines[i]);
  CHECK(total == net_type::parameter_count);
  CHECK(summary<net_type>() == summary(net));
}

TEST_CASE("summary shows the layers inside residual blocks under the block's position", "[summary]") {
  using net_type = simple_resnet4bit<10, paper_4bit>;
  const std::string text = summary<net_type>();
  CHECK(text.find("residual block") != std::string::npos);
  std::size_t top_level = 0;
  bool nested = false;
  const auto lines = lines_of(text);
  for (std::size_t i = 1; i < lines.size(); ++i) {  // after the summary line
    const std::string& line = lines[i];
    if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0]))) continue;
    const std::string position = line.substr(0, line.find(' '));
    if (position.find('.') == std::string::npos)
      top_level += parameters_of(line);
    else
      nested = true;
  }
  CHECK(nested);
  CHECK(top_level == net_type::parameter_count);
}

TEST_CASE("summary shows a projection shortcut's layers under the block's position, after an s", "[summary]") {
  using net_type = sequential<input<4, 8, 8>, residual<projection<conv2d<8, 1, paper_4bit, 2, 0>, batch_norm>,
                                                       conv2d<8, 3, paper_4bit, 2>, batch_norm_relu>>;
  const std::string text = summary<net_type>();
  INFO(text);
  CHECK(text.find("its shortcut's output added") != std::string::npos);
  std::size_t body = 0, shortcut = 0;
  for (const std::string& line : lines_of(text)) {
    if (line.rfind("0.s", 0) == 0) shortcut += parameters_of(line);
    else if (line.rfind("0.", 0) == 0) body += parameters_of(line);
  }
  CHECK(shortcut == 8 * 4 + 8 + 16);   // the 1x1 convolution and its batch norm
  CHECK(body == 8 * 4 * 9 + 8 + 16);
  CHECK(shortcut + body == net_type::parameter_count);
}

// Multiply-adds per image of a network type: each weighted layer's weights
// times its output pixels.
template <class Net>
std::size_t multiply_adds() {
  std::size_t n = 0;
  Net::for_each_layer_type([&]<class L>(const std::string&) {
    if constexpr (requires { L::weight_count; }) n += L::weight_count * L::output_shape::height * L::output_shape::width;
  });
  return n;
}

TEST_CASE("ResNet-8, ResNet-20 and MobileNetV1-0.5 do the multiply-adds MLPerf Tiny and the papers give", "[summary]") {
  CHECK(multiply_adds<resnet8<10, paper_4bit>>() == 12501632);  // MLPerf Tiny: 12.5 M
  CHECK(multiply_adds<resnet20<10, paper_4bit>>() == 40813184);  // He et al.: 41 M for ResNet-20
  CHECK(multiply_adds<mobilenet_v1<10, paper_4bit>>() == 12167168);  // width 0.5 on 32x32 images
  CHECK(multiply_adds<ds_cnn<12, paper_4bit>>() == 2656768);         // MLPerf Tiny's keyword spotting: 2.7 M
  const std::string text = summary<resnet8<10, paper_4bit>>();
  CHECK(text.find("4.s0") != std::string::npos);  // the 32-channel block's 1x1 shortcut
}

TEST_CASE("a mixed-precision network is one type whose layers keep their own schemes", "[summary]") {
  using mixed = sequential<input<3, 32, 32>, conv2d<8, 3, int8_scheme>, batch_norm_relu, max_pool2d<2>,
                           conv2d<8, 3, paper_4bit>, batch_norm_relu, global_avg_pool,
                           linear<10, with_rounding_t<int8_scheme, stochastic_rounding>>>;
  static_assert(is_valid_network<input<3, 32, 32>, conv2d<8, 3, int8_scheme>, conv2d<8, 3, paper_4bit>>);
  const auto lines = lines_of(summary<mixed>());
  CHECK(lines[0].rfind("10 classes, mixed 8-bit/4-bit weights", 0) == 0);
  CHECK(lines[3].find("scheme A") != std::string::npos);
  CHECK(lines[6].find("scheme B") != std::string::npos);
  CHECK(lines[9].find("scheme C") != std::string::npos);
  const std::string text = summary<mixed>();
  CHECK(text.find("scheme A: " + int8_scheme::describe().substr(0, 20)) != std::string::npos);
  CHECK(text.find("scheme B: " + paper_4bit::describe().substr(0, 20)) != std::string::npos);
  CHECK(text.find("stochastic rounding") > text.find("scheme C: "));
  CHECK(describe_network<mixed>().schemes ==
        std::vector<std::string>{int8_scheme::describe(), paper_4bit::describe(),
                                 with_rounding_t<int8_scheme, stochastic_rounding>::describe()});
}
