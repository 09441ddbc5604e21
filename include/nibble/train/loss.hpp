#pragma once
// Softmax cross-entropy over a batch of logits (N, classes, 1, 1).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "nibble/core/shape.hpp"

namespace nibble {

struct loss_result {
  double loss = 0.0;         // mean over the batch
  std::size_t correct = 0;   // arg-max hits
};

// Writes dL/dlogits = (softmax − onehot) / N into `grad` (same shape as logits).
inline loss_result softmax_cross_entropy(const activation& logits, std::span<const std::int32_t> labels,
                                         activation& grad) {
  const std::size_t n = logits.shape(0), classes = logits.shape(1);
  if (labels.size() != n)
    throw std::invalid_argument("softmax_cross_entropy: " + std::to_string(labels.size()) + " labels for " +
                                std::to_string(n) + " logits");
  grad.resize(logits.shape());
  loss_result r;
  for (std::size_t i = 0; i < n; ++i) {
    const float* z = logits.data() + i * classes;
    float* g = grad.data() + i * classes;
    const auto label = std::size_t(labels[i]);
    if (label >= classes)
      throw std::invalid_argument("softmax_cross_entropy: label " + std::to_string(labels[i]) + " is not below " +
                                  std::to_string(classes) + " classes");
    const float zmax = *std::max_element(z, z + classes);
    double sum = 0.0;
    for (std::size_t c = 0; c < classes; ++c) sum += std::exp(double(z[c] - zmax));
    const double log_sum = std::log(sum);
    r.loss += log_sum - double(z[label] - zmax);
    for (std::size_t c = 0; c < classes; ++c)
      g[c] = float(std::exp(double(z[c] - zmax) - log_sum) / double(n)) - (c == label ? 1.0f / float(n) : 0.0f);
    if (std::size_t(std::max_element(z, z + classes) - z) == label) ++r.correct;
  }
  r.loss /= double(n);
  return r;
}

// Arg-max hits only (evaluation).
inline std::size_t count_correct(const activation& logits, std::span<const std::int32_t> labels) {
  const std::size_t n = logits.shape(0), classes = logits.shape(1);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float* z = logits.data() + i * classes;
    if (std::size_t(std::max_element(z, z + classes) - z) == std::size_t(labels[i])) ++correct;
  }
  return correct;
}

}  // namespace nibble
