#pragma once
// Learning-rate schedule: optional linear warm-up, then cosine annealing
// lr(t) = min + (base − min)·(1 + cos(π·t / T_max)) / 2 with t in epochs
// (fractional within an epoch). Past T_max the cosine keeps going, exactly
// as torch's CosineAnnealingLR does when trained longer than T_max.
#include <cmath>
#include <numbers>

namespace nibble {

struct cosine_schedule {
  double base_lr = 1e-3;
  double min_lr = 0.0;
  double t_max = 100.0;
  double warmup_epochs = 0.0;

  double at(double epoch) const {
    if (warmup_epochs > 0.0 && epoch < warmup_epochs) return base_lr * (epoch + 1e-3) / warmup_epochs;
    const double t = epoch - warmup_epochs;
    return min_lr + (base_lr - min_lr) * (1.0 + std::cos(std::numbers::pi * t / t_max)) / 2.0;
  }
};

}  // namespace nibble
