// The general GEMM against a naive product, for every storage order of A
// and B, with and without accumulation, on sizes that leave partial tiles,
// partial slivers and several K blocks.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <nibble/kernels/gemm.hpp>

namespace {

namespace k = nibble::kernels;

void check_gemm(std::size_t m, std::size_t n, std::size_t kk, bool a_t, bool b_t, bool accumulate) {
  INFO(m << "x" << n << "x" << kk << (a_t ? " A transposed" : "") << (b_t ? " B transposed" : "")
         << (accumulate ? " accumulating" : ""));
  std::mt19937 rng(unsigned(m * 131 + n * 17 + kk));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> a(m * kk), b(kk * n), c(m * n);
  for (auto* v : {&a, &b, &c})
    for (auto& x : *v) x = u(rng);
  const k::matrix_view av = a_t ? k::transposed(a.data(), m) : k::row_major(a.data(), kk);
  const k::matrix_view bv = b_t ? k::transposed(b.data(), kk) : k::row_major(b.data(), n);
  std::vector<double> want(m * n);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = accumulate ? double(c[i * n + j]) : 0.0;
      for (std::size_t p = 0; p < kk; ++p) s += double(av(i, p)) * double(bv(p, j));
      want[i * n + j] = s;
    }
  k::gemm(m, n, kk, av, bv, c.data(), n, accumulate);
  for (std::size_t i = 0; i < m * n; ++i) {
    INFO("entry " << i);
    REQUIRE(std::fabs(double(c[i]) - want[i]) <= 1e-4 * (1.0 + std::sqrt(double(kk))));
  }
}

}  // namespace

TEST_CASE("gemm matches a naive product for every storage order", "[kernels][gemm]") {
  const std::size_t sizes[][3] = {{1, 1, 1}, {13, 37, 5}, {12, 32, 256}, {64, 100, 300}, {30, 70, 513}, {5, 200, 17}};
  for (const auto& s : sizes)
    for (bool a_t : {false, true})
      for (bool b_t : {false, true})
        for (bool acc : {false, true}) check_gemm(s[0], s[1], s[2], a_t, b_t, acc);
}
