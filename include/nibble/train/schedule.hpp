#pragma once
// Learning-rate schedules. The paper's: optional linear warm-up, then cosine annealing
// lr(t) = min + (base − min)·(1 + cos(π·t / T_max)) / 2 with t in epochs
// (fractional within an epoch). Past T_max the cosine keeps going, exactly
// as torch's CosineAnnealingLR does when trained longer than T_max.
#include <algorithm>
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

// One cycle (Smith & Topin), as torch's OneCycleLR with cosine annealing
// computes it, over fractional epochs t in [0, total_epochs]: up from
// max_lr / div_factor to max_lr during the first rise_fraction of the run,
// then down to max_lr / (div_factor · final_div_factor), both along cosines.
struct one_cycle_schedule {
  double max_lr = 1e-3;
  double total_epochs = 20.0;
  double rise_fraction = 0.25;
  double div_factor = 25.0;
  double final_div_factor = 1e4;

  double at(double epoch) const {
    const double start = max_lr / div_factor, end = start / final_div_factor;
    const double peak = rise_fraction * total_epochs;
    auto along_cosine = [](double from, double to, double f) {
      return to + (from - to) * (1.0 + std::cos(std::numbers::pi * std::clamp(f, 0.0, 1.0))) / 2.0;
    };
    if (epoch < peak) return along_cosine(start, max_lr, epoch / peak);
    return along_cosine(max_lr, end, (epoch - peak) / std::max(total_epochs - peak, 1e-9));
  }
};

// A triangle (airbench's): linearly from start_fraction·peak_lr up to
// peak_lr at peak_fraction of the run, then linearly down to
// end_fraction·peak_lr at its end; t in fractional epochs of total_epochs.
struct triangle_schedule {
  double peak_lr = 1.0;
  double total_epochs = 20.0;
  double start_fraction = 0.2, peak_fraction = 0.23, end_fraction = 0.07;

  double at(double epoch) const {
    const double f = std::clamp(epoch / total_epochs, 0.0, 1.0);
    const double shape = f < peak_fraction ? start_fraction + (1.0 - start_fraction) * f / peak_fraction
                                           : 1.0 + (end_fraction - 1.0) * (f - peak_fraction) / (1.0 - peak_fraction);
    return peak_lr * shape;
  }
};

}  // namespace nibble
