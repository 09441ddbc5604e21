// Inference throughput of a CIFAR network on random images: the nibble half
// of benchmarks/inference_side_by_side.py. The trained network is timed on
// the images normalised beforehand; a deployed network takes their bytes
// and normalises them itself, inside the timed forward.
//
//   --model vgg        VGG4bit<10, …> (the default)
//   --model resnet20   ResNet-20<10, …> (net/resnet20.hpp)
//   --model resnet8    MLPerf Tiny's ResNet-8<10, …> (net/resnet8.hpp)
//
//   --kind trained   the trained network's eval forward (paper_4bit, fp32:
//                    weights fake-quantized on every pass)
//   --kind w4        the deployed weight-only network (4-bit codes decoded
//                    to floats, fp32 products)
//   --kind w4a8 | w4a4 | w8a8
//                    the deployed integer network (u8 activation codes ×
//                    weight codes in int32)
//
// Networks that quantize activations get their ranges from one training
// pass on the random images first. After one warm-up batch it times
// --repeats windows of --batches forwards and prints "key value" lines:
//
//   model resnet8                     (the --model name)
//   int8_kernel amx                   (the int8 micro-tile: amx, vnni or
//                                      portable; NIBBLE_INT8_KERNEL picks a slower one)
//   window_images_per_second 1234.5   (one line per window)
//   images_per_second 1234.5          (the median window)
//   peak_rss_mb 123.4
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <nibble/data/augment.hpp>
#include <nibble/data/cifar.hpp>
#include <nibble/deploy/convert.hpp>
#include <nibble/kernels/int8/packed_gemm.hpp>
#include <nibble/kernels/parallel.hpp>
#include <nibble/net/resnet20.hpp>
#include <nibble/net/resnet8.hpp>
#include <nibble/net/vgg4bit.hpp>
#include <nibble/quant/presets.hpp>

#include "throughput_common.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

using bench::median;
using bench::peak_rss_mb;

struct settings {
  std::string model = "vgg";
  std::string kind = "w4a8";
  std::size_t batch = 128, batches = 5, repeats = 5;
  int threads = 0;
  std::uint64_t seed = 0;
};

template <class Net, class Input>
void time_forward(Net& net, const Input& x, const settings& s) {
  nibble::context eval{.phase = nibble::mode::eval};
  float checksum = net.forward(x, eval).data()[0];  // warm-up
  std::vector<double> rates;
  for (std::size_t r = 0; r < s.repeats; ++r) {
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < s.batches; ++i) checksum += net.forward(x, eval).data()[0];
    const double seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    rates.push_back(double(s.batches * s.batch) / seconds);
    fmt::print("window_images_per_second {:.2f}\n", rates.back());
    std::fflush(stdout);
  }
  fmt::print("images_per_second {:.2f}\npeak_rss_mb {:.1f}\nchecksum {:.6g}\n", median(rates), peak_rss_mb(),
             double(checksum));
}

template <template <std::size_t, class> class Network, class Scheme, bool Deploy>
int run(const settings& s) {
  using trained_type = Network<10, Scheme>;
  nibble::kernels::set_threads(s.threads);
  auto net = std::make_unique<trained_type>();
  std::mt19937_64 rng(s.seed);
  net->init(rng);
  using In = typename trained_type::input_shape;
  nibble::image_batch images({s.batch, In::channels, In::height, In::width});
  for (auto& v : images) v = std::uint8_t(rng() >> 56);
  const auto norm = nibble::data::cifar_normalisation();
  const nibble::data::image_preparation<std::uint8_t> prepare({In::channels, In::height, In::width}, norm);
  nibble::activation x;
  nibble::ensure_batch_shape<In>(x, s.batch);
  for (std::size_t i = 0; i < s.batch; ++i) prepare.normalise(images.data() + i * In::size, x.data() + i * In::size);
  if constexpr (Scheme::quantizes_activations) {
    nibble::context train;
    net->forward(x, train);
  }
  fmt::print("model {}\nkind {}\nthreads {}\nbatch_size {}\nint8_kernel {}\n", s.model, s.kind,
             nibble::kernels::max_threads(), s.batch, nibble::kernels::name(nibble::kernels::plan_int8_product()));
  if constexpr (Deploy) {
    auto deployed = nibble::deploy::convert(*net, norm);
    net.reset();
    time_forward(*deployed, images, s);
  } else {
    time_forward(*net, x, s);
  }
  return 0;
}

// --kind picks the scheme and whether the network is deployed; the same for every --model.
template <template <std::size_t, class> class Network>
int run_kind(const settings& s) {
  using namespace nibble;
  if (s.kind == "trained") return run<Network, paper_4bit, false>(s);
  if (s.kind == "w4") return run<Network, paper_4bit, true>(s);
  if (s.kind == "w4a4") return run<Network, w4a4, true>(s);
  if (s.kind == "w8a8") return run<Network, w8a8, true>(s);
  return run<Network, w4a8, true>(s);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Inference images/s of VGG4bit, ResNet-20 or ResNet-8, trained or deployed, on random data"};
  settings s;
  app.add_option("--model", s.model, "vgg (VGG4bit), resnet20 (ResNet-20) or resnet8 (MLPerf Tiny's ResNet-8)")
      ->check(CLI::IsMember({"vgg", "resnet20", "resnet8"}))->capture_default_str();
  app.add_option("--kind", s.kind, "trained, w4, w4a8, w4a4 or w8a8")
      ->check(CLI::IsMember({"trained", "w4", "w4a8", "w4a4", "w8a8"}))->capture_default_str();
  app.add_option("--batch-size", s.batch, "Images per batch")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--batches", s.batches, "Batches per timed window")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--repeats", s.repeats, "Timed windows")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--threads", s.threads, "Compute threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", s.seed, "Seed for weights and data")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (s.model == "resnet20") return run_kind<nibble::resnet20>(s);
  if (s.model == "resnet8") return run_kind<nibble::resnet8>(s);
  return run_kind<nibble::vgg4bit>(s);
}
