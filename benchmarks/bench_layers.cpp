// Every layer of VGG4bit<10, paper_4bit>, forward and backward, at batch 128,
// plus whole training and evaluation steps of the network.
//
// Each layer is bound to its input shape the way sequential does it (a
// static_assert checks that the bound type is the network's own layer at that
// position), fed random data, and timed alone:
//   layers/<index>_<layer>_<input shape>/forward
//   layers/<index>_<layer>_<input shape>/backward   (after one forward; the
//                                                     first layer, like in the
//                                                     network, writes no dx)
//   step/train   forward + loss + backward + gradient clip + AdamW + post_step
//   step/update  gradient clip + AdamW + post_step alone (3.25M parameters)
//   step/eval    forward in eval mode
// Counters: images/s for everything, GFLOPS (multiply-adds of the GEMMs
// alone) for convolutions and linear layers.
//
// Threads: all OpenMP threads (OMP_NUM_THREADS=1 for one core).
//   bench_layers --benchmark_min_time=0.2
//   bench_layers --benchmark_filter='conv|step'
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/core.h>

#include <nibble/kernels/parallel.hpp>
#include <nibble/net/vgg4bit.hpp>
#include <nibble/quant/presets.hpp>
#include <nibble/train/optimizer.hpp>
#include <nibble/train/step.hpp>

namespace {

using scheme = nibble::paper_4bit;
using net_type = nibble::vgg4bit<10, scheme>;
constexpr std::size_t batch = 128;

template <std::size_t I>
using net_layer = std::remove_cvref_t<decltype(std::declval<net_type&>().template layer<I>())>;

template <class Shape>
nibble::activation random_batch(std::mt19937_64& rng) {
  nibble::activation t;
  nibble::ensure_batch_shape<Shape>(t, batch);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : t) v = normal(rng);
  return t;
}

// Multiply-adds ×2 of one forward pass over the batch (0 for layers
// without a matrix product).
template <class L>
constexpr double forward_flops() {
  if constexpr (requires { L::weight_count; })
    return 2.0 * double(batch) * double(L::weight_count) *
           double(L::output_shape::height * L::output_shape::width);
  else
    return 0.0;
}

template <class L>
struct layer_fixture {
  using in = typename L::input_shape;
  using out = typename L::output_shape;
  std::unique_ptr<L> layer = std::make_unique<L>();
  nibble::activation x, y, dy, dx;
  nibble::context ctx{.phase = nibble::mode::train};
  layer_fixture() {
    std::mt19937_64 rng(7);
    layer->init(rng);
    x = random_batch<in>(rng);
    dy = random_batch<out>(rng);
    nibble::ensure_batch_shape<out>(y, batch);
    nibble::ensure_batch_shape<in>(dx, batch);
  }
};

template <std::size_t I, class Spec, class In>
void add_layer(const std::string& what) {
  using L = typename Spec::template bind<In>;
  static_assert(std::is_same_v<L, net_layer<I>>, "the layer list below no longer matches vgg4bit");
  const std::string base =
      fmt::format("layers/{:02}_{}_{}x{}x{}", I, what, In::channels, In::height, In::width);
  constexpr double flops = forward_flops<L>();

  benchmark::RegisterBenchmark((base + "/forward").c_str(), [](benchmark::State& state) {
    layer_fixture<L> f;
    f.layer->forward(f.x, f.y, f.ctx);
    for (auto _ : state) {
      f.layer->forward(f.x, f.y, f.ctx);
      benchmark::ClobberMemory();
    }
    state.counters["images/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
    if (flops > 0)
      state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  })->UseRealTime()->Unit(benchmark::kMillisecond);

  benchmark::RegisterBenchmark((base + "/backward").c_str(), [](benchmark::State& state) {
    layer_fixture<L> f;
    nibble::activation* dx = I == 0 ? nullptr : &f.dx;  // as sequential does for its first layer
    f.layer->forward(f.x, f.y, f.ctx);
    f.layer->backward(f.x, f.y, f.dy, dx, f.ctx);
    for (auto _ : state) {
      f.layer->backward(f.x, f.y, f.dy, dx, f.ctx);
      benchmark::ClobberMemory();
    }
    state.counters["images/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
    if (flops > 0)  // weight gradient, plus the input gradient when asked for
      state.counters["GFLOPS"] =
          benchmark::Counter((I == 0 ? 1 : 2) * flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  })->UseRealTime()->Unit(benchmark::kMillisecond);
}

void add_layers() {
  using nibble::shape;
  using conv64 = nibble::conv2d<64, 3, scheme>;
  using conv128 = nibble::conv2d<128, 3, scheme>;
  using conv256 = nibble::conv2d<256, 3, scheme>;
  using bn_relu = nibble::batch_norm_relu;
  using pool = nibble::max_pool2d<2>;
  add_layer<0, conv64, shape<3, 32, 32>>("conv2d<64>");
  add_layer<1, bn_relu, shape<64, 32, 32>>("batch_norm_relu");
  add_layer<2, conv64, shape<64, 32, 32>>("conv2d<64>");
  add_layer<3, bn_relu, shape<64, 32, 32>>("batch_norm_relu");
  add_layer<4, pool, shape<64, 32, 32>>("max_pool2d<2>");
  add_layer<5, conv128, shape<64, 16, 16>>("conv2d<128>");
  add_layer<6, bn_relu, shape<128, 16, 16>>("batch_norm_relu");
  add_layer<7, conv128, shape<128, 16, 16>>("conv2d<128>");
  add_layer<8, bn_relu, shape<128, 16, 16>>("batch_norm_relu");
  add_layer<9, pool, shape<128, 16, 16>>("max_pool2d<2>");
  add_layer<10, conv256, shape<128, 8, 8>>("conv2d<256>");
  add_layer<11, bn_relu, shape<256, 8, 8>>("batch_norm_relu");
  add_layer<12, conv256, shape<256, 8, 8>>("conv2d<256>");
  add_layer<13, bn_relu, shape<256, 8, 8>>("batch_norm_relu");
  add_layer<14, pool, shape<256, 8, 8>>("max_pool2d<2>");
  add_layer<15, nibble::flatten, shape<256, 4, 4>>("flatten");
  add_layer<16, nibble::linear<512, scheme>, shape<4096, 1, 1>>("linear<512>");
  add_layer<17, bn_relu, shape<512, 1, 1>>("batch_norm_relu");
  add_layer<18, nibble::dropout<0.5f>, shape<512, 1, 1>>("dropout<0.5>");
  add_layer<19, nibble::linear<10, scheme>, shape<512, 1, 1>>("linear<10>");
  static_assert(net_type::size == 20, "the layer list above no longer matches vgg4bit");
}

struct network_fixture {
  std::unique_ptr<net_type> net = std::make_unique<net_type>();
  nibble::activation x;
  std::vector<std::int32_t> labels;
  nibble::activation grad;
  nibble::adamw opt{.weight_decay = 5e-4f};
  nibble::context ctx{.phase = nibble::mode::train};
  network_fixture() {
    std::mt19937_64 rng(1);
    net->init(rng);
    x = random_batch<net_type::input_shape>(rng);
    std::uniform_int_distribution<std::int32_t> label(0, 9);
    for (std::size_t i = 0; i < batch; ++i) labels.push_back(label(rng));
  }
  void train_step() {
    ctx.phase = nibble::mode::train;
    nibble::train_step(*net, opt, x, labels, 1e-3f, 0.5, grad, ctx);
  }
  // The part of a training step after backward.
  void update() {
    nibble::clip_gradient_norm(*net, 0.5);
    opt.step(*net, 1e-3f);
    net->post_step();
  }
  void eval_step() {
    ctx.phase = nibble::mode::eval;
    benchmark::DoNotOptimize(net->forward(x, ctx).data());
  }
};

void add_steps() {
  benchmark::RegisterBenchmark("step/train", [](benchmark::State& state) {
    network_fixture f;
    f.train_step();  // first-call allocations
    for (auto _ : state) f.train_step();
    state.counters["images/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  })->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("step/update", [](benchmark::State& state) {
    network_fixture f;
    f.train_step();  // gradients to work with, optimizer state allocated
    for (auto _ : state) f.update();
    state.counters["images/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  })->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("step/eval", [](benchmark::State& state) {
    network_fixture f;
    f.eval_step();
    for (auto _ : state) f.eval_step();
    state.counters["images/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  })->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  add_layers();
  add_steps();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("network", fmt::format("vgg4bit<10, paper_4bit>, {} parameters, batch {}",
                                                     net_type::parameter_count, batch));
  benchmark::AddCustomContext("omp_threads", std::to_string(nibble::kernels::max_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
