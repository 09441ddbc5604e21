#pragma once
// Eigenvalues and eigenvectors of a small real symmetric matrix by cyclic
// Jacobi rotations: simple, accurate to rounding, and fast enough for the
// sizes nibble needs (a 12×12 patch covariance). Not for large matrices.
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace nibble {

struct symmetric_eigen {
  std::vector<double> values;   // ascending
  std::vector<double> vectors;  // n×n, row k is the unit eigenvector of values[k]
};

// a: n×n, row-major, symmetric (only its upper triangle is read).
inline symmetric_eigen eigen_decompose(std::vector<double> a, std::size_t n) {
  if (a.size() != n * n)
    throw std::invalid_argument("nibble::eigen_decompose: expected " + std::to_string(n * n) + " entries, got " +
                                std::to_string(a.size()));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < i; ++j) a[i * n + j] = a[j * n + i];
  std::vector<double> v(n * n, 0.0);  // columns: eigenvectors
  for (std::size_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  auto off_diagonal = [&] {
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i + 1; j < n; ++j) s += a[i * n + j] * a[i * n + j];
    return s;
  };
  double scale = 0.0;
  for (double x : a) scale += x * x;
  for (int sweep = 0; sweep < 100 && off_diagonal() > 1e-30 * scale; ++sweep)
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (apq == 0.0) continue;
        // The rotation that zeroes a[p][q] (Golub & Van Loan, sym.schur2).
        const double tau = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
        const double t = (tau >= 0 ? 1.0 : -1.0) / (std::abs(tau) + std::sqrt(1.0 + tau * tau));
        const double c = 1.0 / std::sqrt(1.0 + t * t), s = t * c;
        for (std::size_t k = 0; k < n; ++k) {  // a = a·J
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {  // a = Jᵀ·a
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (std::size_t k = 0; k < n; ++k) {  // v = v·J
          const double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  for (std::size_t i = 1; i < n; ++i)  // insertion sort by eigenvalue
    for (std::size_t j = i; j > 0 && a[order[j] * n + order[j]] < a[order[j - 1] * n + order[j - 1]]; --j)
      std::swap(order[j], order[j - 1]);
  symmetric_eigen r{std::vector<double>(n), std::vector<double>(n * n)};
  for (std::size_t k = 0; k < n; ++k) {
    r.values[k] = a[order[k] * n + order[k]];
    for (std::size_t i = 0; i < n; ++i) r.vectors[k * n + i] = v[i * n + order[k]];
  }
  return r;
}

}  // namespace nibble
