// Every network of the catalogue (tools/catalogue.hpp), through the real
// programs: train_cifar10 or train_cifar100 trains it for a batch, then
// cifar_model exports it (with a C header where it has one), evaluates the
// model file against the checkpoint and classifies an image — or, where the
// network cannot deploy, the trainer says so at start and cifar_model
// refuses with the reason, writing nothing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "catalogue_lookup.hpp"
#include "trainer_runs.hpp"

namespace {

namespace fs = std::filesystem;
using namespace fault;

struct catalogue_runs : trainer_runs {
  fs::path cifar100 = write_cifar100(root / "cifar100");
  fs::path image = root / "first.ppm";

  catalogue_runs() {
    // A 32x32 binary PPM of the CIFAR-10 test file's first image.
    const std::string planes = fixtures::file_text(data / "test_batch.bin").substr(1, 3072);
    std::ofstream out(image, std::ios::binary);
    out << "P6\n32 32\n255\n";
    for (int p = 0; p < 1024; ++p)
      for (int c = 0; c < 3; ++c) out.put(planes[std::size_t(c * 1024 + p)]);
  }

  template <class V>
  void check() {
    using S = typename V::scheme;
    const std::string name = std::string(V::network::flag) + "-" + std::string(S::flag) + "-w" +
                             std::to_string(S::bits) + "a" + std::to_string(S::activations) +
                             (V::bf16 ? "-bf16" : "-fp32") + "-" + std::to_string(V::classes);
    INFO(V::flags());
    const fs::path folder = root / name;
    std::vector<std::string> flags = {"--model", std::string(V::network::flag), "--scheme", std::string(S::flag),
                                      "--bits", std::to_string(S::bits), "--activations",
                                      std::to_string(S::activations), "--arithmetic", V::bf16 ? "bf16" : "fp32",
                                      "--max-batches", "1", "--batch-size", "8"};
    if (V::classes != 10)
      flags.insert(flags.end(), {"--data", cifar100.string(), "--labels", V::classes == 20 ? "coarse" : "fine"});
    auto a = args(folder, 1, flags);
    if (V::classes != 10) a[0] = NIBBLE_CIFAR100_TRAINER;
    auto r = succeeds(a);
    CHECK_THAT(r.output, Catch::Contains("network: " + std::string(V::network::label) + ", " +
                                         std::to_string(V::classes) + " classes") &&
                             Catch::Contains("kernels: convolutions"));
    const std::string ckpt = (folder / "last.ckpt").string(), model = (root / (name + ".nibble")).string(),
                      header = (root / (name + ".h")).string();
    const std::string test_data = V::classes == 10 ? data.string() : cifar100.string();
    if constexpr (!V::deploys) {
      CHECK_THAT(r.output, Catch::Contains("note: cifar_model cannot export this network: " +
                                           std::string(V::no_deploy)));
      r = run({NIBBLE_MODEL_TOOL, "export", "--checkpoint", ckpt, "--output", model});
      CHECK(r.exit_code != 0);
      CHECK_THAT(r.output, Catch::Contains("which cannot be exported: " + std::string(V::no_deploy)));
      CHECK(!fs::exists(model));
      return;
    }
    if constexpr (!V::has_c_header) {
      r = run({NIBBLE_MODEL_TOOL, "export", "--checkpoint", ckpt, "--output", model, "--c-header", header});
      CHECK(r.exit_code != 0);
      CHECK_THAT(r.output, Catch::Contains("cannot be exported as a C header: " + std::string(V::no_c_header)));
      CHECK(!fs::exists(model));
      r = succeeds({NIBBLE_MODEL_TOOL, "export", "--checkpoint", ckpt, "--output", model});
    } else {
      r = succeeds({NIBBLE_MODEL_TOOL, "export", "--checkpoint", ckpt, "--output", model, "--c-header", header});
      CHECK_THAT(r.output, Catch::Contains("C99 header"));
      CHECK(fs::file_size(header) > 0);
    }
    CHECK_THAT(r.output, Catch::Contains(name + ".nibble: " + std::string(V::network::label)));
    r = succeeds({NIBBLE_MODEL_TOOL, "evaluate", model, "--data", test_data, "--checkpoint", ckpt});
    // Integer networks agree bit for bit; weight-only ones in top-1 at least
    // on most images (their float epilogues round differently).
    const std::string images = V::classes == 10 ? "32" : "16";
    CHECK_THAT(r.output, Catch::Contains("of " + images + " images)"));
    if constexpr (S::type::quantizes_activations)
      CHECK_THAT(r.output, Catch::Contains("all logits bit for bit equal on " + images + ","));
    r = succeeds({NIBBLE_MODEL_TOOL, "classify", model, image.string()});
    CHECK_THAT(r.output, Catch::Contains(image.string() + ":  "));
  }
};

void check_network(std::string_view network) {
  catalogue_runs t;
  std::size_t checked = 0;
  nibble::tools::for_each_variant<nibble::tools::variants>([&]<std::size_t, class V>() {
    if (V::network::flag != network) return;
    t.check<V>();
    ++checked;
  });
  CHECK(checked > 0);
}

}  // namespace

TEST_CASE("every vgg of the catalogue trains, and exports, evaluates and classifies or is refused with the reason",
          "[fault][catalogue]") {
  check_network("vgg");
}

TEST_CASE("the trainer's --show-kernels prints the kernels each layer runs", "[fault][catalogue]") {
  trainer_runs t;
  const auto r = t.succeeds(t.args(t.root / "run", 1, {"--model", "vgg", "--max-batches", "1", "--show-kernels"}));
  CHECK_THAT(r.output, Catch::Contains("kernels on this machine:\n  0: forward ") &&
                           Catch::Contains("  12: forward "));
}
TEST_CASE("every resnet of the catalogue trains, and exports, evaluates and classifies", "[fault][catalogue]") {
  check_network("resnet");
}
TEST_CASE("every resnet20 of the catalogue trains, and exports, evaluates and classifies", "[fault][catalogue]") {
  check_network("resnet20");
}
TEST_CASE("every resnet8 of the catalogue trains, and exports, evaluates and classifies", "[fault][catalogue]") {
  check_network("resnet8");
}
TEST_CASE("every mobilenet of the catalogue trains, and exports, evaluates and classifies", "[fault][catalogue]") {
  check_network("mobilenet");
}
TEST_CASE("every fast-vgg of the catalogue trains, and exports, evaluates and classifies", "[fault][catalogue]") {
  check_network("fast-vgg");
}
TEST_CASE("every whitened-vgg of the catalogue trains, and is refused by cifar_model with the reason",
          "[fault][catalogue]") {
  check_network("whitened-vgg");
}
