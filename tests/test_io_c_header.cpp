// C header export: the header compiles as C99, C11 and C++17 with every
// warning an error, and its forward pass gives the library's answers: for
// an integer network (W4A8, integers alone) every output bit for bit at
// -O0 to -O3 with or without fused multiply-adds; for networks with float
// layers, the same top-1 and outputs equal to float rounding — built for
// this machine, and for Cortex-M4F and Cortex-M3 (no FPU) run on QEMU's
// mps2 boards (tests/cortex_m/).
#include <catch2/catch.hpp>

#include <nibble/deploy/convert.hpp>
#include <nibble/io/c_header.hpp>
#include <nibble/layers/depthwise_conv2d.hpp>
#include <nibble/layers/flatten.hpp>
#include <nibble/layers/global_avg_pool.hpp>
#include <nibble/layers/max_pool2d.hpp>
#include <nibble/layers/relu.hpp>
#include <nibble/net/ds_cnn.hpp>
#include <nibble/net/mobilenet_v1.hpp>
#include <nibble/net/residual.hpp>
#include <nibble/net/resnet8.hpp>
#include <nibble/quant/presets.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "deploy_fixtures.hpp"
#include "training_fixtures.hpp"

using namespace nibble;
namespace fs = std::filesystem;

namespace {

template <class S>
using plain_net = sequential<input<3, 16, 16>, conv2d<8, 3, S>, batch_norm_relu, conv2d<8, 3, S, 2>, batch_norm, relu,
                             max_pool2d<2>, flatten, linear<16, S>, batch_norm_relu, dropout<0.5f>, linear<10, S>>;
template <class S>
using affine_net = sequential<input<3, 12, 12>, batch_norm, conv2d<6, 5, S, 1, 0>, batch_norm_relu, global_avg_pool,
                              linear<4, S>>;
template <class S>
using residual_net = sequential<input<3, 12, 12>, conv2d<8, 3, S>, batch_norm_relu,
                                residual<conv2d<8, 3, S>, batch_norm_relu, conv2d<8, 3, S>, batch_norm>, relu,
                                conv2d<8, 3, S, 2>, batch_norm_relu, global_avg_pool, linear<10, S>>;
// ResNet's shape: blocks whose sums stay in integers, the last one's sum
// handed on as floats to the pooling, and a linear classifier: no float
// arithmetic but the pooling's mean and the quantization of it.
template <class S>
using resnet_net =
    sequential<input<3, 12, 12>, conv2d<8, 3, S>, batch_norm_relu,
               residual<conv2d<8, 3, S>, batch_norm_relu, conv2d<8, 3, S>, batch_norm>, relu,
               residual<projection<conv2d<16, 1, S, 2, 0>>, conv2d<16, 3, S, 2>, batch_norm_relu, conv2d<16, 3, S>,
                        batch_norm>,
               relu, global_avg_pool, linear<10, S>>;
// Depthwise-separable blocks, stride 1 and 2, codes handed both ways.
template <class S>
using separable_net =
    sequential<input<3, 12, 12>, conv2d<6, 3, S>, batch_norm_relu, depthwise_conv2d<3, S>, batch_norm_relu,
               conv2d<16, 1, S, 1, 0>, batch_norm_relu, depthwise_conv2d<3, S, 2>, batch_norm_relu,
               conv2d<16, 1, S, 1, 0>, batch_norm_relu, global_avg_pool, linear<10, S>>;
template <class S>
using projection_net =
    sequential<input<3, 12, 12>, conv2d<8, 3, S>, batch_norm_relu,
               residual<projection<conv2d<16, 1, S, 2, 0>, batch_norm>, conv2d<16, 3, S, 2>, batch_norm_relu,
                        conv2d<16, 3, S>, batch_norm>,
               relu, global_avg_pool, linear<10, S>>;

// Whether the library's fused multiply-adds are fused (xsimd fuses them
// where the CPU it is built for has FMA): then the C header's fmaf gives
// its float layers the library's roundings.
#if defined(__FMA__)
constexpr bool library_fuses = true;
#else
constexpr bool library_fuses = false;
#endif


std::vector<float> read_floats(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<float> v;
  float f;
  while (in.read(reinterpret_cast<char*>(&f), sizeof f)) v.push_back(f);
  return v;
}

// The program: tests/cortex_m/run_model.c, as main.c beside the header.
void write_main(const fs::path& dir) {
  fs::copy_file(NIBBLE_RUN_MODEL_C, dir / "main.c", fs::copy_options::overwrite_existing);
}

// A second file that includes the header without its implementation.
const char* other_c = R"C(#include "model.h"
const float* (*model_entry(void))(const uint8_t*, float*) { return model_forward; }
)C";

// How to build the test program for one target and run it on input.bin,
// writing output.bin, in folder dir.
struct c_target {
  std::string name, compile, run;
};
std::vector<c_target> c_targets(const fs::path& dir, bool libm) {
  const std::string warnings = " -pedantic -Wall -Wextra -Werror ";
  const std::string in = (dir / "input.bin").string(), out = (dir / "output.bin").string();
  const std::string sources = (dir / "main.c").string() + " " + (dir / "other.c").string();
  const std::string lm = libm ? " -lm" : "";
  std::vector<c_target> targets;
#ifdef NIBBLE_C_COMPILER
  // The dialects and flags a firmware build might use; GNU C fuses
  // multiply-adds where it can (-ffp-contract=fast).
  const std::vector<std::pair<std::string, std::string>> host = {
      {NIBBLE_C_COMPILER, "-std=c99 -O0 -g -fsanitize=address,undefined -fno-sanitize-recover=all"},
      {NIBBLE_C_COMPILER, "-std=c99 -O2"},
      {NIBBLE_C_COMPILER, "-std=gnu11 -O3 -ffp-contract=fast -march=native"},
#ifdef NIBBLE_CXX_COMPILER
      {NIBBLE_CXX_COMPILER, "-x c++ -std=c++17 -O2 -ffp-contract=fast"},
#endif
  };
  for (std::size_t i = 0; i < host.size(); ++i) {
    const std::string exe = (dir / ("model" + std::to_string(i))).string();
    targets.push_back({"this machine, " + host[i].second,
                       host[i].first + warnings + host[i].second + " -o " + exe + " " + sources + lm,
                       exe + " " + in + " " + out});
  }
#endif
#ifdef NIBBLE_ARM_GCC
  // Bare metal with newlib's semihosting (files on the host), in QEMU.
  const std::string cortex_m = NIBBLE_CORTEX_M_DIR;
  const auto arm = [&](const std::string& name, const std::string& cpu, const std::string& board) {
    const std::string elf = (dir / (board + ".elf")).string();
    targets.push_back({name,
                       std::string(NIBBLE_ARM_GCC) + warnings + "-std=gnu99 -O2 " + cpu +
                           " --specs=rdimon.specs -T " + cortex_m + "/mps2.ld -o " + elf + " " + sources + " " +
                           cortex_m + "/startup.c" + lm,
                       "timeout 300 " + std::string(NIBBLE_QEMU_ARM) + " -M " + board + " -d plugin -plugin " +
                           NIBBLE_COUNT_INSTRUCTIONS +
                           " -nographic -monitor none -serial none -semihosting-config enable=on,target=native,"
                           "arg=model,arg=" + in + ",arg=" + out + " -kernel " + elf});
  };
  arm("Cortex-M4F (QEMU mps2-an386)", "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16", "mps2-an386");
  arm("Cortex-M3, no FPU (QEMU mps2-an385)", "-mcpu=cortex-m3 -mthumb -mfloat-abi=soft", "mps2-an385");
#endif
  return targets;
}

// Exact: every output bit for bit; otherwise to float rounding, with the
// same top-1. integers_only: the header says it needs no <math.h>, and its
// programs link without libm.
template <class Net>
void require_c_agrees(std::uint64_t seed, const std::string& name, bool integers_only, bool exact,
                      std::size_t n = 24) {
  const fs::path dir = fixtures::fresh_folder("c_header_" + name);
  auto net = fixtures::trained_looking<Net>(seed);
  auto deployed = deploy::convert(*net, fixtures::test_normalisation(Net::input_shape::channels));
  const std::string header = c_header(*deployed, "model", model_info{name, {}});
  std::ofstream(dir / "model.h") << header;
  write_main(dir);
  std::ofstream(dir / "other.c") << other_c;
  // Integer networks need no libm: their programs link without it.
  const bool libm = header.find("integers only, no <math.h>") == std::string::npos;
  CHECK(libm == !integers_only);
  const std::vector<c_target> targets = c_targets(dir, libm);
  REQUIRE_FALSE(targets.empty());  // CMake found no C compiler at all

  const image_batch x = fixtures::random_images<typename Net::input_shape>(n, seed + 7);
  std::ofstream(dir / "input.bin", std::ios::binary).write(reinterpret_cast<const char*>(x.data()),
                                                           std::streamsize(x.size()));
  context eval{mode::eval};
  const activation& want = deployed->forward(x, eval);
  constexpr std::size_t classes = Net::output_shape::channels;

  for (const c_target& t : targets) {
    INFO("target: " << t.name);
    fs::remove(dir / "output.bin");
    const std::string compile = t.compile + " 2> " + (dir / "compile.log").string();
    INFO("compile: " << compile);
    const int compiled = std::system(compile.c_str());
    INFO(fixtures::file_text(dir / "compile.log"));
    REQUIRE(compiled == 0);
    INFO("run: " << t.run);
    REQUIRE(std::system(t.run.c_str()) == 0);
    const std::vector<float> got = read_floats(dir / "output.bin");
    REQUIRE(got.size() == want.size());
    float largest = 0.0f, worst = 0.0f;
    std::size_t differ = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      largest = std::max(largest, std::fabs(want.data()[i]));
      worst = std::max(worst, std::fabs(got[i] - want.data()[i]));
      differ += got[i] != want.data()[i];
    }
    INFO("largest output " << largest << ", largest difference " << worst << ", " << differ << " of " << got.size()
                           << " outputs differ");
    if (exact) CHECK(differ == 0);
    CHECK(worst <= 1e-3f * largest);
    for (std::size_t s = 0; s < n; ++s) {
      const float* w = want.data() + s * classes;
      const float* g = got.data() + s * classes;
      CHECK(std::max_element(w, w + classes) - w == std::max_element(g, g + classes) - g);
    }
  }
  fs::remove_all(dir);
}

}  // namespace

TEST_CASE("an exported C header computes the library's answers (warnings as errors)", "[c_header]") {
  SECTION("W4A8 integer layers: integers alone, bit for bit") {
    require_c_agrees<plain_net<w4a8>>(401, "w4a8", true, true);
  }
  SECTION("W8A8 with a lone batch norm, an unpadded 5x5 kernel and average pooling") {
    require_c_agrees<affine_net<w8a8>>(402, "w8a8", false, library_fuses);
  }
  SECTION("W4A8 with a residual block") { require_c_agrees<residual_net<w4a8>>(406, "residual", false, library_fuses); }
  SECTION("W4A8 residual blocks, identity and projection, their sums in integers: integers alone, bit for bit") {
    require_c_agrees<resnet_net<w4a8>>(408, "resnet", true, true);
  }
  SECTION("W4A4 residual blocks: integers alone, bit for bit") {
    require_c_agrees<resnet_net<w4a4>>(409, "resnet4", true, true);
  }
  // The networks MLPerf Tiny runs on microcontrollers, on a few images (the
  // Cortex-M builds run them in QEMU): the figures are in
  // benchmarks/cortex_m_instructions.
  SECTION("MLPerf Tiny's ResNet-8, W4A8: integers alone, bit for bit") {
    require_c_agrees<resnet8<10, w4a8>>(413, "resnet8", true, true, 3);
  }
  SECTION("MLPerf Tiny's DS-CNN, W4A8: a 10x4 first layer") {
    require_c_agrees<ds_cnn<12, w4a8>>(415, "ds_cnn", false, library_fuses, 3);
  }
  SECTION("MobileNetV1-0.5, W4A8") { require_c_agrees<mobilenet_v1<10, w4a8>>(414, "mobilenet", false, library_fuses, 2); }
  SECTION("W4A8 depthwise-separable blocks: integer depthwise convolutions") {
    require_c_agrees<separable_net<w4a8>>(411, "separable", false, library_fuses);
  }
  SECTION("4-bit weight-only depthwise-separable blocks") {
    require_c_agrees<separable_net<paper_4bit>>(412, "separable_w4", false, false);
  }
  SECTION("W4A8 with a projection shortcut that changes channels and size") {
    require_c_agrees<projection_net<w4a8>>(407, "projection", true, true);
  }
  SECTION("4-bit weight-only layers") { require_c_agrees<plain_net<paper_4bit>>(403, "w4", false, false); }
}

TEST_CASE("a C header names everything with its prefix and says how much RAM it needs", "[c_header]") {
  auto deployed = deploy::convert(*fixtures::trained_looking<plain_net<w4a8>>(404), fixtures::test_normalisation(3));
  CHECK_THROWS_WITH(c_header(*deployed, "4bit-net"), Catch::Contains("the prefix '4bit-net' is not a C identifier"));
  const std::string h = c_header(*deployed, "net_a", model_info{"label", {{"checkpoint", "run.ckpt"}}});
  CHECK(h.find("const float* net_a_forward(const uint8_t* image, float* arena);") != std::string::npos);
  CHECK(h.find("#define NET_A_INPUT_BYTES 768") != std::string::npos);
  CHECK(h.find("normalised inside as (pixel / 255 - mean) / std with mean 0.45 ") != std::string::npos);
  CHECK(h.find("#if defined(NET_A_IMPLEMENTATION)") != std::string::npos);
  CHECK(h.find("static const uint8_t net_a_bytes[") != std::string::npos);
  CHECK(h.find("NET_A_WEIGHTS = {") != std::string::npos);
  CHECK(h.find("pfx") == std::string::npos);
  // The arena: the two largest tensors alive together (the first layer's
  // input, the image's 3 x 16 x 16 codes, and its output, 8 x 16 x 16
  // codes) and the largest convolution scratch (the second's: 3 padded rows
  // of 18 x 8 codes, three filters' 72 weights): 768 + 2,048 + 648 bytes.
  CHECK(h.find("#define NET_A_ARENA_BYTES 3464") != std::string::npos);
  CHECK(h.find("#define NET_A_ARENA_FLOATS 866") != std::string::npos);
}

TEST_CASE("a C header's arena holds only the tensors alive together, a residual sum written over its kept input",
          "[c_header]") {
  auto deployed = deploy::convert(*fixtures::trained_looking<resnet_net<w4a8>>(410), fixtures::test_normalisation(3));
  const std::string h = c_header(*deployed, "net");
  // The first block's sum takes its input's place. Most alive at once: at
  // the last convolution, its input (576 codes), the shortcut's 576 int16
  // addends and its 576 float outputs (which the ReLU after it overwrites):
  // 4,032 bytes; then its scratch, 3 padded rows of 8 x 16 codes and three
  // filters' 144 weights, 816 bytes.
  CHECK(h.find("#define NET_ARENA_BYTES 4848") != std::string::npos);
}

#ifdef NIBBLE_C_COMPILER
TEST_CASE("a C header's weights go to the section its WEIGHTS macro names", "[c_header]") {
  const fs::path dir = fixtures::fresh_folder("c_header_section");
  auto deployed = deploy::convert(*fixtures::trained_looking<plain_net<w4a8>>(405), fixtures::test_normalisation(3));
  save_c_header(dir / "model.h", *deployed, "model");
  write_main(dir);
  const std::string object = (dir / "main.o").string();
  const std::string compile = std::string(NIBBLE_C_COMPILER) +
                              " -std=c99 -O2 -c \"-DMODEL_WEIGHTS=__attribute__((section(\\\".nibble_weights\\\")))\" -o " +
                              object + " " + (dir / "main.c").string() + " 2> " + (dir / "compile.log").string();
  INFO(compile << "\n" << fixtures::file_text(dir / "compile.log"));
  REQUIRE(std::system(compile.c_str()) == 0);
  REQUIRE(std::system(("objdump -h " + object + " > " + (dir / "sections.txt").string()).c_str()) == 0);
  const std::string sections = fixtures::file_text(dir / "sections.txt");
  INFO(sections);
  CHECK(sections.find(".nibble_weights") != std::string::npos);
  fs::remove_all(dir);
}
#endif

#ifdef NIBBLE_ARM_GCC
TEST_CASE("on Cortex-M4F the instruction counter counts the same work for each image", "[c_header][cortex_m]") {
  using Net = plain_net<w4a8>;
  const fs::path dir = fixtures::fresh_folder("c_header_count");
  auto net = fixtures::trained_looking<Net>(411);
  auto deployed = deploy::convert(*net, fixtures::test_normalisation(3));
  save_c_header(dir / "model.h", *deployed, "model", model_info{"count", {}});
  write_main(dir);
  std::ofstream(dir / "other.c") << other_c;
  const std::vector<c_target> targets = c_targets(dir, false);
  const c_target m4 = targets.at(targets.size() - 2);
  REQUIRE(m4.name.find("Cortex-M4F") != std::string::npos);
  REQUIRE(std::system((m4.compile + " 2> " + (dir / "compile.log").string()).c_str()) == 0);
  // The instructions of runs on 1, 2 and 3 images (QEMU's log, stderr).
  std::vector<double> counts;
  for (std::size_t images = 1; images <= 3; ++images) {
    const image_batch x = fixtures::random_images<Net::input_shape>(images, 412);
    std::ofstream(dir / "input.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(x.data()), std::streamsize(x.size()));
    REQUIRE(std::system((m4.run + " 2> " + (dir / "count.log").string()).c_str()) == 0);
    const std::string log = fixtures::file_text(dir / "count.log");
    INFO(log);
    const auto at = log.find("instructions: ");
    REQUIRE(at != std::string::npos);
    counts.push_back(std::stod(log.substr(at + 14)));
  }
  // Each image adds the same work, and the work is not nothing: more
  // instructions than the network has multiply-adds.
  const double first = counts[1] - counts[0], second = counts[2] - counts[1];
  INFO("instructions per image: " << first << " and " << second);
  CHECK(second == Approx(first).epsilon(0.05));
  constexpr double macs = 8.0 * 3 * 9 * 16 * 16 + 8.0 * 8 * 9 * 8 * 8 + 128.0 * 16 + 16.0 * 10;
  CHECK(first > macs);

  // With blocks=FILE the counts per translated block (cortex_m_instructions
  // --profile) add up to the same total.
  std::string run = m4.run;
  const std::string plugin = NIBBLE_COUNT_INSTRUCTIONS;
  run.insert(run.find(plugin) + plugin.size(), ",blocks=" + (dir / "blocks.txt").string());
  REQUIRE(std::system((run + " 2> " + (dir / "count.log").string()).c_str()) == 0);
  std::istringstream blocks(fixtures::file_text(dir / "blocks.txt"));
  std::string address;
  double n = 0, sum = 0;
  std::size_t lines = 0;
  while (blocks >> address >> n) sum += n, ++lines;
  CHECK(lines > 10);
  CHECK(sum == counts[2]);
  fs::remove_all(dir);
}
#endif
