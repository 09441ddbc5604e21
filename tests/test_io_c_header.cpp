// C header export: the header compiles as C99 with every warning an error,
// and its reference forward pass gives the library's answers: the same top-1
// on every image and logits equal to float rounding, for integer (W4A8) and
// weight-only (4-bit) networks — built for this machine, and for Cortex-M4F
// and Cortex-M3 (no FPU) run on QEMU's mps2 boards (tests/cortex_m/).
#include <catch2/catch.hpp>

#include <nibble/deploy/convert.hpp>
#include <nibble/io/c_header.hpp>
#include <nibble/layers/flatten.hpp>
#include <nibble/layers/global_avg_pool.hpp>
#include <nibble/layers/max_pool2d.hpp>
#include <nibble/layers/relu.hpp>
#include <nibble/quant/presets.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
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


std::vector<float> read_floats(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<float> v;
  float f;
  while (in.read(reinterpret_cast<char*>(&f), sizeof f)) v.push_back(f);
  return v;
}

const char* main_c = R"C(#include <stdio.h>
#include "model.h"
int main(int argc, char** argv) {
  static uint8_t image[MODEL_INPUT_BYTES];
  static float work[MODEL_WORK_FLOATS];
  FILE* in = fopen(argv[1], "rb");
  FILE* out = fopen(argv[2], "wb");
  (void)argc;
  if (!in || !out) return 2;
  while (fread(image, 1, MODEL_INPUT_BYTES, in) == MODEL_INPUT_BYTES) {
    const float* logits = model_forward(image, work);
    if (!logits || fwrite(logits, sizeof(float), MODEL_OUTPUTS, out) != MODEL_OUTPUTS) return 3;
  }
  fclose(in);
  return fclose(out) == 0 ? 0 : 4;
}
)C";

// How to build the test program for one target and run it on input.bin,
// writing output.bin, in folder dir.
struct c_target {
  std::string name, compile, run;
};
std::vector<c_target> c_targets(const fs::path& dir) {
  const std::string warnings = " -std=c99 -pedantic -Wall -Wextra -Werror -O1 ";
  const std::string in = (dir / "input.bin").string(), out = (dir / "output.bin").string();
  std::vector<c_target> targets;
#ifdef NIBBLE_C_COMPILER
  targets.push_back({"this machine",
                     std::string(NIBBLE_C_COMPILER) + warnings + "-o " + (dir / "model").string() + " " +
                         (dir / "main.c").string() + " -lm",
                     (dir / "model").string() + " " + in + " " + out});
#endif
#ifdef NIBBLE_ARM_GCC
  // Bare metal with newlib's semihosting (files on the host), in QEMU.
  const std::string cortex_m = NIBBLE_CORTEX_M_DIR;
  const auto arm = [&](const std::string& name, const std::string& cpu, const std::string& board) {
    const std::string elf = (dir / (board + ".elf")).string();
    targets.push_back({name,
                       std::string(NIBBLE_ARM_GCC) + warnings + cpu + " --specs=rdimon.specs -T " + cortex_m +
                           "/mps2.ld -o " + elf + " " + (dir / "main.c").string() + " " + cortex_m +
                           "/startup.c -lm",
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

template <class Net>
void require_c_agrees(std::uint64_t seed, const std::string& name) {
  const fs::path dir = fixtures::fresh_folder("c_header_" + name);
  const std::vector<c_target> targets = c_targets(dir);
  REQUIRE_FALSE(targets.empty());  // CMake found no C compiler at all
  auto net = fixtures::trained_looking<Net>(seed);
  auto deployed = deploy::convert(*net, fixtures::test_normalisation(Net::input_shape::channels));
  save_c_header(dir / "model.h", *deployed, "model", model_info{name, {}});
  std::ofstream(dir / "main.c") << main_c;

  constexpr std::size_t n = 24;
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
    for (std::size_t i = 0; i < got.size(); ++i) {
      largest = std::max(largest, std::fabs(want.data()[i]));
      worst = std::max(worst, std::fabs(got[i] - want.data()[i]));
    }
    INFO("largest logit " << largest << ", largest difference " << worst);
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

TEST_CASE("an exported C header computes the library's answers (C99, warnings as errors)", "[c_header]") {
  SECTION("W4A8 integer layers") { require_c_agrees<plain_net<w4a8>>(401, "w4a8"); }
  SECTION("W8A8 with a lone batch norm, an unpadded 5x5 kernel and average pooling") {
    require_c_agrees<affine_net<w8a8>>(402, "w8a8");
  }
  SECTION("4-bit weight-only layers") { require_c_agrees<plain_net<paper_4bit>>(403, "w4"); }
}

TEST_CASE("a C header prefix must be a C identifier", "[c_header]") {
  auto deployed = deploy::convert(*fixtures::trained_looking<plain_net<w4a8>>(404), fixtures::test_normalisation(3));
  CHECK_THROWS_WITH(c_header(*deployed, "4bit-net"), Catch::Contains("the prefix '4bit-net' is not a C identifier"));
  const std::string h = c_header(*deployed, "net_a");
  CHECK(h.find("static const float* net_a_forward(const uint8_t* image, float* work)") != std::string::npos);
  CHECK(h.find("#define NET_A_INPUT_BYTES 768") != std::string::npos);
  CHECK(h.find("normalised inside as (pixel / 255 - mean) / std with mean 0.45 ") != std::string::npos);
  CHECK(h.find("#define NET_A_WORK_FLOATS") != std::string::npos);
  CHECK(h.find("pfx") == std::string::npos);
}

#ifdef NIBBLE_ARM_GCC
TEST_CASE("on Cortex-M4F the instruction counter counts the same work for each image", "[c_header][cortex_m]") {
  using Net = plain_net<w4a8>;
  const fs::path dir = fixtures::fresh_folder("c_header_count");
  auto net = fixtures::trained_looking<Net>(411);
  auto deployed = deploy::convert(*net, fixtures::test_normalisation(3));
  save_c_header(dir / "model.h", *deployed, "model", model_info{"count", {}});
  std::ofstream(dir / "main.c") << main_c;
  const c_target m4 = c_targets(dir).at(1);
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
  fs::remove_all(dir);
}
#endif
