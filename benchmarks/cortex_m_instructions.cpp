// An exported C header on Cortex-M (VGG4bit or SimpleResNet4bit), measured:
// instructions per image and per multiply-add (QEMU models no cycles; a
// plugin counts the instructions executed), the arena (RAM), the constant
// data and the code (flash).
//
// The network gets random weights and one training pass on random images
// (input ranges, batch-norm statistics), is deployed and exported with
// c_header; its header is compiled with arm-none-eabi-gcc -O2 for
//   m4-dsp    Cortex-M4F, the DSP extension's SMLAD loop
//   m4-plain  Cortex-M4F, the plain C loop (-DNIBBLE_C_NO_DSP)
//   m3        Cortex-M3, no FPU, no DSP
// and run on QEMU's mps2-an386 / mps2-an385 on 1 and on 1 + --images
// images; the difference, divided by --images, is one image's work. The
// code is the size of the .text sections of the program's own object file
// (the runtime and a small main), built with -ffunction-sections. Prints
// "key value" lines. --profile also builds the M4F DSP program with -g and
// prints each function's share of its instructions (the plugin's count per
// translated block, named by arm-none-eabi-addr2line: inlined code counts
// for the function inlined, so model_word is the DSP loops' loads).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <nibble/data/cifar.hpp>
#include <nibble/deploy/convert.hpp>
#include <nibble/io/c_header.hpp>
#include <nibble/net/ds_cnn.hpp>
#include <nibble/net/mobilenet_v1.hpp>
#include <nibble/net/resnet8.hpp>
#include <nibble/net/simple_resnet4bit.hpp>
#include <nibble/net/vgg4bit.hpp>
#include <nibble/quant/presets.hpp>

namespace fs = std::filesystem;

namespace {

struct settings {
  std::string network = "vgg";
  std::string scheme = "w4a8";
  std::size_t images = 2;
  std::uint64_t seed = 0;
  bool profile = false;
  std::string dir = (fs::temp_directory_path() / "nibble_cortex_m").string();
};

std::string text_of(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void run(const std::string& command) {
  if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
}

// The instructions QEMU executes for the program on `images` images of
// image_bytes each; with a blocks file, the plugin's count per block too.
double instructions(const settings& s, const fs::path& elf, const std::string& board, std::size_t images,
                    std::size_t image_bytes, const std::string& blocks = "") {
  const fs::path input = fs::path(s.dir) / "input.bin", log = fs::path(s.dir) / "count.log";
  std::mt19937_64 rng(s.seed + 1);
  std::string bytes(images * image_bytes, '\0');
  for (char& b : bytes) b = char(rng() >> 56);
  std::ofstream(input, std::ios::binary) << bytes;
  run(fmt::format("timeout 900 {} -M {} -d plugin -plugin {} -nographic -monitor none -serial none "
                  "-semihosting-config enable=on,target=native,arg=model,arg={},arg={} -kernel {} > /dev/null 2> {}",
                  NIBBLE_QEMU_ARM, board, std::string(NIBBLE_COUNT_INSTRUCTIONS) + (blocks.empty() ? "" : ",blocks=" + blocks),
                  input.string(),
                  (fs::path(s.dir) / "output.bin").string(), elf.string(), log.string()));
  const std::string text = text_of(log);
  const auto at = text.find("instructions: ");
  if (at == std::string::npos) throw std::runtime_error("no count in " + log.string() + ":\n" + text);
  return std::stod(text.substr(at + 14));
}

// The bytes of the sections of an object file whose names start with `prefix`.
double section_bytes(const fs::path& object, const std::string& prefix) {
  const fs::path listing = object.string() + ".sizes";
  run(fmt::format("{}-size -A {} > {}", std::string(NIBBLE_ARM_GCC).substr(0, std::string(NIBBLE_ARM_GCC).size() - 4),
                  object.string(), listing.string()));
  std::istringstream lines(text_of(listing));
  std::string name;
  double size = 0, address = 0, sum = 0;
  while (lines >> name) {
    if (name.rfind(prefix, 0) == 0 && lines >> size >> address) sum += size;
    lines.ignore(1 << 20, '\n');
  }
  return sum;
}

// Each function's share of the instructions of `elf` on 1 + s.images
// images, largest first (the top 12 and the rest).
void print_profile(const settings& s, const fs::path& elf, std::size_t image_bytes) {
  const fs::path blocks = fs::path(s.dir) / "blocks.txt", names = fs::path(s.dir) / "blocks.names";
  const double total = instructions(s, elf, "mps2-an386", 1 + s.images, image_bytes, blocks.string());
  std::vector<std::pair<std::string, double>> counts;  // address, instructions
  {
    std::istringstream lines(text_of(blocks));
    std::string address;
    double n = 0;
    while (lines >> address >> n) counts.emplace_back("0x" + address, n);
  }
  const std::string gcc = NIBBLE_ARM_GCC;
  std::string addresses;
  for (const auto& c : counts) addresses += " " + c.first;
  run(fmt::format("{}-addr2line -f -s -e {}{} > {}", gcc.substr(0, gcc.size() - 4), elf.string(), addresses,
                  names.string()));
  std::istringstream lines(text_of(names));
  std::vector<std::pair<std::string, double>> by_function;  // function, instructions
  std::string function, place;
  for (const auto& c : counts) {
    if (!std::getline(lines, function) || !std::getline(lines, place))  // a name, then file:line (and more)
      throw std::runtime_error("addr2line gave too few lines in " + names.string());
    const auto at = std::find_if(by_function.begin(), by_function.end(), [&](const auto& f) { return f.first == function; });
    if (at == by_function.end())
      by_function.emplace_back(function, c.second);
    else
      at->second += c.second;
  }
  std::sort(by_function.begin(), by_function.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  double shown = 0;
  for (std::size_t i = 0; i < by_function.size() && i < 12; ++i) {
    fmt::print("profile {} {:.1f}%\n", by_function[i].first, 100.0 * by_function[i].second / total);
    shown += by_function[i].second;
  }
  fmt::print("profile (the rest) {:.1f}%\n", 100.0 * (total - shown) / total);
}

template <template <std::size_t, class> class Network, class Scheme, std::size_t Classes = 10>
int measure(const settings& s) {
  using trained_type = Network<Classes, Scheme>;
  auto net = std::make_unique<trained_type>();
  std::mt19937_64 rng(s.seed);
  net->init(rng);
  using In = typename trained_type::input_shape;
  nibble::activation x;
  nibble::ensure_batch_shape<In>(x, 32);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  nibble::context train;
  net->forward(x, train);
  // CIFAR-10's normalisation for images; the same numbers in each channel of anything else (DS-CNN's features).
  nibble::data::normalisation norm = nibble::data::cifar_normalisation();
  if (In::channels != 3) norm = {std::vector<float>(In::channels, 0.5f), std::vector<float>(In::channels, 0.25f)};
  auto deployed = nibble::deploy::convert(*net, norm);
  fs::create_directories(s.dir);
  const fs::path dir = s.dir;
  nibble::save_c_header(dir / "model.h", *deployed, "model", nibble::model_info{s.network + " " + s.scheme, {}});
  fs::copy_file(fs::path(NIBBLE_CORTEX_M_DIR) / "run_model.c", dir / "main.c", fs::copy_options::overwrite_existing);

  double macs = 0;
  deployed->visit_layers([&](const auto& l) {
    using L = std::remove_cvref_t<decltype(l)>;
    if constexpr (requires { L::weight_count; })
      macs += double(L::weight_count) * double(L::output_shape::height * L::output_shape::width);
  });
  const std::string header = text_of(dir / "model.h");
  const auto macro = [&](const std::string& name) {
    const auto at = header.find("#define MODEL_" + name + " ");
    return at == std::string::npos ? std::string("?") : header.substr(at + 15 + name.size(), header.find('\n', at) - at - 15 - name.size());
  };
  const auto exceptions_at = header.find("Requantization exceptions: ") + 27;
  fmt::print("network {} {}\nmultiply_adds {}\narena_bytes {}\nconstant_bytes_at_most {}\n"
             "requantization_exceptions {}\n",
             s.network, s.scheme, macs, macro("ARENA_BYTES"), macro("CONSTANT_BYTES").substr(0, macro("CONSTANT_BYTES").find(' ')),
             header.substr(exceptions_at, header.find(' ', exceptions_at) - exceptions_at));

  struct target {
    std::string name, flags, board;
  };
  const std::string m4 = "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16";
  for (const target& t : {target{"m4-dsp", m4, "mps2-an386"}, target{"m4-plain", m4 + " -DNIBBLE_C_NO_DSP", "mps2-an386"},
                          target{"m3", "-mcpu=cortex-m3 -mthumb -mfloat-abi=soft", "mps2-an385"}}) {
    const fs::path elf = dir / (t.name + ".elf");
    run(fmt::format("{} -std=c99 -O2 {} --specs=rdimon.specs -T {}/mps2.ld -o {} {} {}/startup.c -lm", NIBBLE_ARM_GCC,
                    t.flags, NIBBLE_CORTEX_M_DIR, elf.string(), (dir / "main.c").string(), NIBBLE_CORTEX_M_DIR));
    const fs::path object = dir / (t.name + ".o");
    run(fmt::format("{} -std=c99 -O2 {} -ffunction-sections -fdata-sections -c -o {} {}", NIBBLE_ARM_GCC, t.flags,
                    object.string(), (dir / "main.c").string()));
    fmt::print("{}_code_bytes {:.0f}\n", t.name, section_bytes(object, ".text"));
    const std::size_t image_bytes = In::channels * In::height * In::width;
    const double one = instructions(s, elf, t.board, 1, image_bytes),
                 more = instructions(s, elf, t.board, 1 + s.images, image_bytes);
    const double per_image = (more - one) / double(s.images);
    fmt::print("{}_instructions_per_image {:.0f}\n{}_instructions_per_multiply_add {:.3f}\n", t.name, per_image,
               t.name, per_image / macs);
    if (s.profile && t.name == "m4-dsp") {
      const fs::path profiled = dir / "m4-dsp-g.elf";
      run(fmt::format("{} -std=c99 -O2 -g {} --specs=rdimon.specs -T {}/mps2.ld -o {} {} {}/startup.c -lm",
                      NIBBLE_ARM_GCC, t.flags, NIBBLE_CORTEX_M_DIR, profiled.string(), (dir / "main.c").string(),
                      NIBBLE_CORTEX_M_DIR));
      print_profile(s, profiled, image_bytes);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A network's C header on Cortex-M (QEMU): instructions, arena, constant data and code"};
  settings s;
  app.add_option("--network", s.network,
                 "vgg (VGG4bit), resnet (SimpleResNet4bit), resnet8 (MLPerf Tiny's ResNet-8), ds-cnn (MLPerf Tiny's "
                 "DS-CNN, 12 keywords) or mobilenet (MobileNetV1-0.5)")
      ->check(CLI::IsMember({"vgg", "resnet", "resnet8", "ds-cnn", "mobilenet"}))->capture_default_str();
  app.add_option("--scheme", s.scheme, "w4a8, w4a4 or w8a8")->check(CLI::IsMember({"w4a8", "w4a4", "w8a8"}))
      ->capture_default_str();
  app.add_option("--images", s.images, "Images measured (after a first)")->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seed", s.seed, "Seed for weights and images")->capture_default_str();
  app.add_flag("--profile", s.profile, "Also print each function's share of the M4F DSP program's instructions");
  app.add_option("--dir", s.dir, "Folder for the header and the programs")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const auto with_scheme = [&]<template <std::size_t, class> class Net, std::size_t Classes = 10>() {
      if (s.scheme == "w4a4") return measure<Net, nibble::w4a4, Classes>(s);
      if (s.scheme == "w8a8") return measure<Net, nibble::w8a8, Classes>(s);
      return measure<Net, nibble::w4a8, Classes>(s);
    };
    if (s.network == "resnet8") return with_scheme.template operator()<nibble::resnet8>();
    if (s.network == "resnet") return with_scheme.template operator()<nibble::simple_resnet4bit>();
    if (s.network == "mobilenet") return with_scheme.template operator()<nibble::mobilenet_v1>();
    if (s.network == "ds-cnn") return with_scheme.template operator()<nibble::ds_cnn, 12>();
    return with_scheme.template operator()<nibble::vgg4bit>();
  } catch (const std::exception& e) {
    fmt::print(stderr, "cortex_m_instructions: {}\n", e.what());
    return 1;
  }
}
