// The integer convolutions of deployed VGG4bit (conv2 … conv6: 64 or more
// input channels), one image on one thread, three ways:
//   im2col    what deploy::integer_conv2d does today: an im2col matrix of
//             the image's u8 codes packed into column tiles, then the
//             packed int8 product (kernels/int8/packed_gemm.hpp)
//   gemm      the packed product alone, on columns packed beforehand
//   implicit  kernels/int8/implicit_conv.hpp: AMX tiles loaded straight
//             from channels-last padded codes, no im2col matrix
// Names: int8_conv/<way>/conv<n>. The TOPS counter is 2 × the layer's
// multiply-adds per second (the implicit way's extra sums in the padding
// are not counted). Needs AMX for the product; without it, the gemm and
// implicit rows are skipped with a message.
//
//   bench_int8_conv --benchmark_min_time=0.2
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <omp.h>

#include <nibble/core/shape.hpp>
#include <nibble/deploy/integer_conv2d.hpp>
#include <nibble/kernels/int8/implicit_conv.hpp>
#include <nibble/kernels/int8/packed_gemm.hpp>
#include <nibble/quant/activations.hpp>
#include <nibble/quant/bits.hpp>

namespace {

namespace k8 = nibble::kernels::int8;

// One conv layer of VGG4bit: input channels, size, filters.
template <std::size_t C, std::size_t H, std::size_t F>
struct layer {
  using deployed =
      nibble::deploy::integer_conv2d_layer<nibble::shape<C, H, H>, F, 3, nibble::bits<4>, nibble::activation_bits<8>, 1,
                                           1, nibble::deploy::folded_norm, nibble::deploy::with_relu,
                                           nibble::deploy::codes_in, nibble::deploy::codes_out>;
  static constexpr double ops = 2.0 * double(F) * double(C) * 9.0 * double(H * H);

  std::vector<std::int8_t> weights = std::vector<std::int8_t>(F * C * 9);
  std::vector<std::uint8_t> codes = std::vector<std::uint8_t>(C * H * H);  // c, y, x
  k8::implicit_conv_shape shape{C, H, H, 3, 1, F};
  std::vector<std::uint8_t, nibble::kernels::aligned_allocator<std::uint8_t>> padded;  // channels last, padded, slack
  k8::packed_weights packed;
  k8::implicit_conv_weights implicit;
  k8::packed_columns columns;
  std::vector<std::int32_t> sums;

  layer() {
    std::mt19937_64 rng(C * 131 + H);
    for (auto& w : weights) w = std::int8_t(int(rng() % 15) - 7);
    for (auto& x : codes) x = std::uint8_t(rng());
    padded.assign(shape.input_pixels() * C, 0);
    const std::size_t wp = shape.padded_width();
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t y = 0; y < H; ++y)
        for (std::size_t x = 0; x < H; ++x) padded[((y + 1) * wp + x + 1) * C + c] = codes[(c * H + y) * H + x];
    k8::pack_weights(weights.data(), F, C * 9, packed);
    k8::pack_implicit_conv_weights(weights.data(), shape, implicit);
    sums.resize(std::max(F * H * H, shape.positions() * F));
    pack();
  }
  void pack() {
    k8::pack_columns(C * 9, H * H, [&](std::size_t k, std::uint8_t* row) {
      deployed::im2col_row(codes.data(), k, 0, row);
    }, columns);
  }
};

bool have_amx(benchmark::State& state) {
  if (k8::amx_usable()) return true;
  state.SkipWithError("no AMX on this machine or build");
  return false;
}

// Times run(l) on one thread; TOPS counts the layer's real products.
template <class L, class Run>
void timed(benchmark::State& state, Run run) {
  omp_set_num_threads(1);
  L l;
  if (!have_amx(state)) return;
  for (auto _ : state) {
    run(l);
    benchmark::DoNotOptimize(l.sums.data());
  }
  state.counters["TOPS"] = benchmark::Counter(L::ops * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

template <class L>
void im2col(benchmark::State& state) {
  timed<L>(state, [](L& l) {
    l.pack();
    k8::packed_gemm(l.packed, l.columns, l.sums.data(), l.columns.cols);
  });
}

template <class L>
void gemm(benchmark::State& state) {
  timed<L>(state, [](L& l) { k8::packed_gemm(l.packed, l.columns, l.sums.data(), l.columns.cols); });
}

// Argument: positions per call of the kernel (0: all; the deployed layer
// takes 32).
template <class L>
void implicit(benchmark::State& state) {
  const std::size_t range = std::size_t(state.range(0));
  timed<L>(state, [&](L& l) {
#if NIBBLE_ISA_AMX_INT8
    const std::size_t all = l.shape.positions(), step = range == 0 ? all : range;
    for (std::size_t q = 0; q < all; q += step)
      k8::implicit_conv_amx(l.padded.data(), l.implicit, q, std::min(all, q + step), l.sums.data());
#else
    (void)l, (void)range;  // have_amx() has already skipped this benchmark
#endif
  });
}

using conv2 = layer<64, 32, 64>;
using conv3 = layer<64, 16, 128>;
using conv4 = layer<128, 16, 128>;
using conv5 = layer<128, 8, 256>;
using conv6 = layer<256, 8, 256>;

// The three ways alternate layer by layer, so background load hits them alike.
#define NIBBLE_INT8_CONV(L)                                         \
  BENCHMARK(im2col<L>)->Name("int8_conv/im2col/" #L);               \
  BENCHMARK(gemm<L>)->Name("int8_conv/gemm/" #L);                   \
  BENCHMARK(implicit<L>)->Name("int8_conv/implicit/" #L)->Arg(32)->Arg(0);
NIBBLE_INT8_CONV(conv2)
NIBBLE_INT8_CONV(conv3)
NIBBLE_INT8_CONV(conv4)
NIBBLE_INT8_CONV(conv5)
NIBBLE_INT8_CONV(conv6)

}  // namespace

BENCHMARK_MAIN();
