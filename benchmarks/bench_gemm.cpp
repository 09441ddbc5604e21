// nibble's GEMM against OpenBLAS (cblas_sgemm) on the matrix products that
// VGG4bit's layers actually run, in the same process and on the same data.
//
// Convolutions are im2col + GEMM per image (see kernels/conv.hpp), so each
// conv layer gives three products per image:
//   fwd          C[Cout × HW]     = W[Cout × Cin·9] · col[Cin·9 × HW]      (+= bias-filled C)
//   bwd_data     dcol[Cin·9 × HW] = Wᵀ · dy[Cout × HW]                      (A stored transposed)
//   bwd_weights  dW[Cout × Cin·9] += dy[Cout × HW] · colᵀ                   (B stored transposed)
// and the two linear layers at batch 128 give
//   fwd          y[128 × Out]     += x[128 × In] · Wqᵀ                      (B stored transposed)
//   bwd_data     dx[128 × In]      = dy[128 × Out] · Wq[Out × In]
//   bwd_weights  dW[Out × In]      = dyᵀ · x                                 (A stored transposed)
// with the same storage orders, strides and accumulate flags as the layers.
//
// Every product runs on 1 thread and on 2 threads in each library (names
// gemm/<library>/<product>/threads:<n>); the two libraries alternate shape
// by shape so that a change in background load hits both alike. GFLOPS is
// 2·M·N·K per call over wall time.
//
// OpenBLAS runs its AVX-512 kernels unless --openblas_coretype=<name> says
// otherwise (openblas_setup.hpp). The "openblas" context line at the top of
// the output names the kernels in use.
//
//   bench_gemm --benchmark_min_time=0.2
//   bench_gemm --benchmark_filter='threads:1'
//   bench_gemm --benchmark_filter='fwd_conv2/'
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <nibble/kernels/gemm.hpp>

#include "openblas_setup.hpp"

namespace {

struct product {
  std::string name;
  std::size_t m, n, k;
  bool a_transposed;  // A is stored as k × m (row-major), else m × k
  bool b_transposed;  // B is stored as n × k, else k × n
  bool accumulate;    // C += A·B, else C = A·B
  double flops() const { return 2.0 * double(m) * double(n) * double(k); }
  std::size_t lda() const { return a_transposed ? m : k; }
  std::size_t ldb() const { return b_transposed ? k : n; }
};

std::vector<product> vgg4bit_products() {
  struct conv {
    std::size_t cin, cout, hw;
  };
  constexpr conv convs[] = {{3, 64, 32}, {64, 64, 32}, {64, 128, 16}, {128, 128, 16}, {128, 256, 8}, {256, 256, 8}};
  std::vector<product> out;
  for (std::size_t i = 0; i < std::size(convs); ++i) {
    const auto [cin, cout, hw] = convs[i];
    const std::size_t pixels = hw * hw, rows = cin * 9;
    const std::string id = "conv" + std::to_string(i + 1);
    out.push_back({"fwd_" + id, cout, pixels, rows, false, false, true});
    out.push_back({"bwd_data_" + id, rows, pixels, cout, true, false, false});
    out.push_back({"bwd_weights_" + id, cout, rows, pixels, false, true, true});
  }
  struct fc {
    std::size_t in, out;
  };
  constexpr fc fcs[] = {{4096, 512}, {512, 10}};
  constexpr std::size_t batch = 128;
  for (std::size_t i = 0; i < std::size(fcs); ++i) {
    const auto [in, o] = fcs[i];
    const std::string id = "fc" + std::to_string(i + 1);
    out.push_back({"fwd_" + id, batch, o, in, false, true, true});
    out.push_back({"bwd_data_" + id, batch, in, o, false, false, false});
    out.push_back({"bwd_weights_" + id, o, in, batch, true, false, false});
  }
  return out;
}

using buffer = std::vector<float, nibble::kernels::aligned_allocator<float>>;

struct operands {
  buffer a, b, c;
  explicit operands(const product& p) : a(p.m * p.k), b(p.k * p.n), c(p.m * p.n) {
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (auto* v : {&a, &b, &c})
      for (auto& x : *v) x = u(rng);
  }
};

void run_nibble(const product& p, operands& o) {
  namespace k = nibble::kernels;
  const k::matrix_view a = p.a_transposed ? k::transposed(o.a.data(), p.lda()) : k::row_major(o.a.data(), p.lda());
  const k::matrix_view b = p.b_transposed ? k::transposed(o.b.data(), p.ldb()) : k::row_major(o.b.data(), p.ldb());
  k::gemm(p.m, p.n, p.k, a, b, o.c.data(), p.n, p.accumulate);
}

void run_openblas(const product& p, operands& o) {
  cblas_sgemm(CblasRowMajor, p.a_transposed ? CblasTrans : CblasNoTrans, p.b_transposed ? CblasTrans : CblasNoTrans,
              int(p.m), int(p.n), int(p.k), 1.0f, o.a.data(), int(p.lda()), o.b.data(), int(p.ldb()),
              p.accumulate ? 1.0f : 0.0f, o.c.data(), int(p.n));
}

using nibble_bench::library;
using nibble_bench::settle;

void bench(benchmark::State& state, library lib, const product& p, int threads) {
  omp_set_num_threads(threads);  // nibble's gemm splits over all OpenMP threads
  openblas_set_num_threads(threads);
  settle(lib, threads);
  operands o(p);
  const auto run = lib == library::nibble ? run_nibble : run_openblas;
  for (int i = 0; i < 2; ++i) run(p, o);  // packing buffers, thread start-up
  for (auto _ : state) {
    run(p, o);
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(p.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["M"] = double(p.m);
  state.counters["N"] = double(p.n);
  state.counters["K"] = double(p.k);
}

// Both libraries must agree, on one thread and on two, before their speeds
// mean anything.
bool check_agreement(const std::vector<product>& products) {
  bool ok = true;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    for (const auto& p : products) {
      operands x(p), y(p);
      run_nibble(p, x);
      run_openblas(p, y);
      nibble_bench::agreement a;
      for (std::size_t i = 0; i < x.c.size(); ++i) a.add(x.c[i], y.c[i]);
      if (!a.close()) {
        std::fprintf(stderr, "bench_gemm: %s on %d threads: nibble and OpenBLAS differ by %g (largest |C| %g)\n",
                     p.name.c_str(), threads, a.max_err, a.max_ref);
        ok = false;
      }
    }
  }
  nibble_bench::last = {library::openblas, 2};
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  nibble_bench::choose_openblas_kernels(argc, argv);
  static const std::vector<product> products = vgg4bit_products();
  for (int threads : {1, 2})
    for (const auto& p : products)
      for (library lib : {library::nibble, library::openblas}) {
        const std::string name = std::string("gemm/") + (lib == library::nibble ? "nibble/" : "openblas/") + p.name +
                                 "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), [lib, &p, threads](benchmark::State& s) {
          bench(s, lib, p, threads);
        })->UseRealTime()->Unit(benchmark::kMicrosecond);
      }

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!check_agreement(products)) return 1;
  benchmark::AddCustomContext("openblas", std::string(openblas_get_corename()) + " | " + openblas_get_config());
  benchmark::AddCustomContext("nibble_vector_width", std::to_string(nibble::kernels::fvec_width) + " floats");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
