// VGG4bit's convolution products: the kernels nibble's training step runs,
// against OpenBLAS sgemm computing the same products, in one process.
//
// For each conv layer and a batch of B images the step computes three
// products (M × N × K, 2·M·N·K flops each):
//   fwd          y  = W · im2col(x)            Cout × B·HW × Cin·9
//   bwd_data     dx = Wᵀ · dy, folded back      Cin·9 × B·HW × Cout   (not for conv1: its input needs no gradient)
//   bwd_weights  dW = dy · im2col(x)ᵀ           Cout × Cin·9 × B·HW
// nibble runs them as the layers do (kernels/conv.hpp: direct convolution
// straight from the images where it applies, the im2col GEMM elsewhere),
// images in and images out. OpenBLAS gets the easier job: one sgemm per
// product over operands already laid out as matrices, the im2col matrix of
// the whole batch built beforehand and the folding of dx back into images
// (col2im) left out of its time. Both count the same 2·M·N·K flops.
//
// Names: conv/<library>/<product>_<layer>/threads:<n>, library one of
// nibble (fp32), openblas (fp32 sgemm) and nibble_bf16 (bf16 operands, fp32
// sums; a different arithmetic, shown beside the fp32 pair, not part of it).
//
//   bench_conv_products --benchmark_min_time=0.2
//   bench_conv_products --benchmark_filter='threads:2'
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <nibble/kernels/conv.hpp>

#include "openblas_setup.hpp"

namespace {

namespace k = nibble::kernels;
using nibble_bench::library;

constexpr std::size_t batch = 32;

struct conv_layer {
  std::string name;
  std::size_t cin, cout, hw;
  k::conv_geometry geometry() const { return {cin, hw, hw, 3, 1, 1}; }
  std::size_t pixels() const { return hw * hw; }
  std::size_t rows() const { return cin * 9; }
};

const std::vector<conv_layer>& vgg4bit_convs() {
  static const std::vector<conv_layer> convs = {{"conv1", 3, 64, 32},    {"conv2", 64, 64, 32},
                                                {"conv3", 64, 128, 16},  {"conv4", 128, 128, 16},
                                                {"conv5", 128, 256, 8},  {"conv6", 256, 256, 8}};
  return convs;
}

enum class product { fwd, bwd_data, bwd_weights };
const char* product_name(product p) {
  return p == product::fwd ? "fwd" : p == product::bwd_data ? "bwd_data" : "bwd_weights";
}

struct shape {
  std::size_t m, n, k;
};
shape product_shape(const conv_layer& c, product p) {
  const std::size_t cols = batch * c.pixels();
  switch (p) {
    case product::fwd: return {c.cout, cols, c.rows()};
    case product::bwd_data: return {c.rows(), cols, c.cout};
    default: return {c.cout, c.rows(), cols};
  }
}

using buffer = std::vector<float, k::aligned_allocator<float>>;

buffer random_buffer(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  buffer b(n);
  for (auto& v : b) v = u(rng);
  return b;
}

// The operands of one layer: images (as nibble uses them) and the same data
// laid out as matrices (as OpenBLAS gets them).
struct layer_data {
  conv_layer c;
  buffer x, w, bias, dy;     // NCHW images, Cout × Cin·9 weights
  buffer y, dx, dw, db;      // nibble's outputs
  buffer col, dy_matrix;     // im2col(x) as Cin·9 × B·HW, dy as Cout × B·HW
  buffer out_matrix;         // OpenBLAS's output
  explicit layer_data(const conv_layer& layer)
      : c(layer),
        x(random_buffer(batch * layer.cin * layer.pixels(), 1)),
        w(random_buffer(layer.cout * layer.rows(), 2)),
        bias(random_buffer(layer.cout, 3)),
        dy(random_buffer(batch * layer.cout * layer.pixels(), 4)),
        y(batch * layer.cout * layer.pixels()),
        dx(batch * layer.cin * layer.pixels()),
        dw(layer.cout * layer.rows()),
        db(layer.cout),
        col(layer.rows() * batch * layer.pixels()),
        dy_matrix(layer.cout * batch * layer.pixels()) {
    // The im2col matrix of the batch, images side by side.
    const std::size_t p = c.pixels(), cols = batch * p;
    for (std::size_t n = 0; n < batch; ++n)
      for (std::size_t ch = 0; ch < c.cin; ++ch)
        for (std::size_t t = 0; t < 9; ++t)
          for (std::size_t oy = 0; oy < c.hw; ++oy)
            for (std::size_t ox = 0; ox < c.hw; ++ox) {
              const std::ptrdiff_t iy = std::ptrdiff_t(oy + t / 3) - 1, ix = std::ptrdiff_t(ox + t % 3) - 1;
              const bool inside = iy >= 0 && ix >= 0 && iy < std::ptrdiff_t(c.hw) && ix < std::ptrdiff_t(c.hw);
              col[(ch * 9 + t) * cols + n * p + oy * c.hw + ox] =
                  inside ? x[(n * c.cin + ch) * p + std::size_t(iy) * c.hw + std::size_t(ix)] : 0.0f;
            }
    for (std::size_t n = 0; n < batch; ++n)
      for (std::size_t o = 0; o < c.cout; ++o)
        std::copy_n(dy.data() + (n * c.cout + o) * p, p, dy_matrix.data() + o * cols + n * p);
  }
};

template <bool Bf16>
struct nibble_workspaces {
  k::conv_forward_workspace<Bf16> forward;
  k::conv_workspace<Bf16> backward;
};

// One product the way conv2d_layer runs it.
template <bool Bf16>
void run_nibble(layer_data& d, product p, nibble_workspaces<Bf16>& ws) {
  const k::conv_geometry g = d.c.geometry();
  switch (p) {
    case product::fwd:
      k::conv_forward(g, d.c.cout, batch, d.x.data(), d.w.data(), d.bias.data(), d.y.data(), ws.forward);
      break;
    case product::bwd_data: {
      // What conv_backward does for dx: flip the weights, convolve dy.
      ws.backward.flipped.resize(d.w.size());
      k::flip_transpose_weights(d.c.cout, d.c.cin, 3, d.w.data(), ws.backward.flipped.data());
      const k::conv_geometry back{d.c.cout, d.c.hw, d.c.hw, 3, 1, 1};
      k::conv_forward(back, d.c.cin, batch, d.dy.data(), ws.backward.flipped.data(), nullptr, d.dx.data(),
                      ws.backward.flipped_forward);
      break;
    }
    case product::bwd_weights:  // with the bias gradient, as in the step
      k::conv_backward(g, d.c.cout, batch, d.x.data(), d.w.data(), d.dy.data(), d.dw.data(), d.db.data(), nullptr,
                       ws.backward);
      break;
  }
}

void run_openblas(layer_data& d, product p) {
  const shape s = product_shape(d.c, p);
  const int m = int(s.m), n = int(s.n), kk = int(s.k);
  switch (p) {
    case product::fwd:
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, kk, 1.0f, d.w.data(), kk, d.col.data(), n, 0.0f,
                  d.out_matrix.data(), n);
      break;
    case product::bwd_data:  // A = Wᵀ, W stored Cout × Cin·9
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, kk, 1.0f, d.w.data(), m, d.dy_matrix.data(), n,
                  0.0f, d.out_matrix.data(), n);
      break;
    case product::bwd_weights:  // B = colᵀ, col stored Cin·9 × B·HW
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, kk, 1.0f, d.dy_matrix.data(), kk, d.col.data(), kk,
                  0.0f, d.out_matrix.data(), n);
      break;
  }
}

std::vector<product> products_of(const conv_layer& c) {
  if (c.cin == 3) return {product::fwd, product::bwd_weights};
  return {product::fwd, product::bwd_data, product::bwd_weights};
}

void bench(benchmark::State& state, library lib, const conv_layer& c, product p, int threads) {
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
  nibble_bench::settle(lib, threads);
  layer_data d(c);
  const shape s = product_shape(c, p);
  d.out_matrix.resize(s.m * s.n);
  nibble_workspaces<false> fp32;
  nibble_workspaces<true> bf16;
  auto run = [&] {
    if (lib == library::nibble)
      run_nibble(d, p, fp32);
    else if (lib == library::nibble_bf16)
      run_nibble(d, p, bf16);
    else
      run_openblas(d, p);
  };
  for (int i = 0; i < 2; ++i) run();  // workspaces, thread start-up
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * double(s.m) * double(s.n) * double(s.k) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

// nibble's fp32 results must match OpenBLAS's (dx after folding OpenBLAS's
// columns back into images) before the speeds mean anything.
bool check_agreement() {
  omp_set_num_threads(2);
  openblas_set_num_threads(2);
  bool ok = true;
  for (const auto& c : vgg4bit_convs())
    for (product p : products_of(c)) {
      layer_data d(c);
      const shape s = product_shape(c, p);
      d.out_matrix.resize(s.m * s.n);
      nibble_workspaces<false> ws;
      run_nibble(d, p, ws);
      run_openblas(d, p);
      const std::size_t pixels = c.pixels(), cols = batch * pixels;
      nibble_bench::agreement a;
      if (p == product::fwd) {
        for (std::size_t n = 0; n < batch; ++n)
          for (std::size_t o = 0; o < c.cout; ++o)
            for (std::size_t q = 0; q < pixels; ++q)
              a.add(d.y[(n * c.cout + o) * pixels + q], d.out_matrix[o * cols + n * pixels + q] + d.bias[o]);
      } else if (p == product::bwd_data) {
        buffer image_cols(c.rows() * pixels), dx(c.cin * pixels);
        for (std::size_t n = 0; n < batch; ++n) {
          for (std::size_t r = 0; r < c.rows(); ++r)
            std::copy_n(d.out_matrix.data() + r * cols + n * pixels, pixels, image_cols.data() + r * pixels);
          std::fill(dx.begin(), dx.end(), 0.0f);
          k::col2im(c.geometry(), image_cols.data(), dx.data());
          for (std::size_t i = 0; i < dx.size(); ++i) a.add(d.dx[n * c.cin * pixels + i], dx[i]);
        }
      } else {
        for (std::size_t i = 0; i < d.dw.size(); ++i) a.add(d.dw[i], d.out_matrix[i]);
      }
      if (!a.close()) {
        std::fprintf(stderr, "bench_conv_products: %s_%s: nibble and OpenBLAS differ by %g (largest %g)\n",
                     product_name(p), c.name.c_str(), a.max_err, a.max_ref);
        ok = false;
      }
    }
  nibble_bench::last = {library::openblas, 2};
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  nibble_bench::choose_openblas_kernels(argc, argv);
  for (int threads : {1, 2})
    for (const auto& c : vgg4bit_convs())
      for (product p : products_of(c))
        for (library lib : {library::nibble, library::openblas, library::nibble_bf16}) {
          if (lib == library::nibble_bf16 && !k::bf16_available) continue;
          const char* lib_name = lib == library::nibble ? "nibble" : lib == library::openblas ? "openblas" : "nibble_bf16";
          const std::string name = std::string("conv/") + lib_name + "/" + product_name(p) + "_" + c.name +
                                   "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), [lib, &c, p, threads](benchmark::State& s) {
            bench(s, lib, c, p, threads);
          })->UseRealTime()->Unit(benchmark::kMillisecond);
        }

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!check_agreement()) return 1;
  benchmark::AddCustomContext("openblas", std::string(openblas_get_corename()) + " | " + openblas_get_config());
  benchmark::AddCustomContext("batch", std::to_string(batch) + " images");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
