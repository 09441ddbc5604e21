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

// Writes dL/dlogits = (softmax − target) / N into `grad` (same shape as
// logits). The target is the one-hot label, or with label smoothing ε the
// mixture (1 − ε)·onehot + ε/classes (as torch's label_smoothing): the loss
// is then log Σ exp z − Σ target·z.
inline loss_result softmax_cross_entropy(const activation& logits, std::span<const std::int32_t> labels,
                                         activation& grad, float label_smoothing = 0.0f) {
  const std::size_t n = logits.shape(0), classes = logits.shape(1);
  if (labels.size() != n)
    throw std::invalid_argument("softmax_cross_entropy: " + std::to_string(labels.size()) + " labels for " +
                                std::to_string(n) + " logits");
  if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f))
    throw std::invalid_argument("softmax_cross_entropy: label smoothing must lie in [0, 1), got " +
                                std::to_string(label_smoothing));
  grad.resize(logits.shape());
  loss_result r;
  const double spread = double(label_smoothing) / double(classes), hit = 1.0 - double(label_smoothing);
  for (std::size_t i = 0; i < n; ++i) {
    const float* z = logits.data() + i * classes;
    float* g = grad.data() + i * classes;
    const auto label = std::size_t(labels[i]);
    if (label >= classes)
      throw std::invalid_argument("softmax_cross_entropy: label " + std::to_string(labels[i]) + " is not below " +
                                  std::to_string(classes) + " classes");
    const float zmax = *std::max_element(z, z + classes);
    double sum = 0.0, mean_shifted = 0.0;
    for (std::size_t c = 0; c < classes; ++c) {
      sum += std::exp(double(z[c] - zmax));
      mean_shifted += double(z[c] - zmax);
    }
    const double log_sum = std::log(sum);
    r.loss += log_sum - hit * double(z[label] - zmax) - spread * mean_shifted;
    // Written so that without smoothing the result is bit for bit the
    // plain one-hot gradient.
    const float spread_n = float(spread / double(n)), hit_n = float(hit / double(n));
    for (std::size_t c = 0; c < classes; ++c)
      g[c] = float(std::exp(double(z[c] - zmax) - log_sum) / double(n)) - (c == label ? hit_n : 0.0f) - spread_n;
    if (std::size_t(std::max_element(z, z + classes) - z) == label) ++r.correct;
  }
  r.loss /= double(n);
  return r;
}

// Arg-max hits only (evaluation). Refuses a label count that is not the
// batch size and labels outside [0, classes).
inline std::size_t count_correct(const activation& logits, std::span<const std::int32_t> labels) {
  const std::size_t n = logits.shape(0), classes = logits.shape(1);
  if (labels.size() != n)
    throw std::invalid_argument("count_correct: " + std::to_string(labels.size()) + " labels for " +
                                std::to_string(n) + " logits");
  std::size_t correct = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || std::size_t(labels[i]) >= classes)
      throw std::invalid_argument("count_correct: label " + std::to_string(labels[i]) + " of image " +
                                  std::to_string(i) + " is not a class from 0 to " + std::to_string(classes - 1));
    const float* z = logits.data() + i * classes;
    if (std::size_t(std::max_element(z, z + classes) - z) == std::size_t(labels[i])) ++correct;
  }
  return correct;
}

}  // namespace nibble
