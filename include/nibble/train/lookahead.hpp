#pragma once
// Lookahead as the fastest CIFAR-10 recipe (airbench) uses it: from
// start_epoch on, every `every` steps the weights are pulled back to a
// running average of themselves,
//   a ← ρ·a + (1 − ρ)·w,  w ← a,  with ρ = base^every · (step / total)^power,
// so the pull is weak early and strongest at the end (ρ = 0.95^5 ≈ 0.77 at
// the last step). At the end of every epoch the weights are set to the
// average. So an epoch always starts with w = a, and the average can start
// again from the weights at the start of each epoch: a resumed run goes on
// exactly as an uninterrupted one, with nothing more in the checkpoint.
//
// Parameters only: the batch-norm running statistics follow the weights
// as they are trained (airbench averages them too).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nibble/core/parameter.hpp"

namespace nibble {

class lookahead {
 public:
  std::size_t start_epoch = 3;  // counting from 0: the fourth epoch
  std::uint64_t every = 5;
  double base = 0.95, power = 3.0;

  // Call at the start of each epoch, before its steps.
  template <class Net>
  void begin_epoch(Net& net, std::size_t epoch) {
    average_.clear();
    if (epoch > start_epoch) copy_from(net);
  }

  // Call after the optimizer step numbered `step` (from 1, over the whole
  // run) of `total`, in epoch `epoch`.
  template <class Net>
  void after_step(Net& net, std::size_t epoch, std::uint64_t step, std::uint64_t total) {
    if (epoch < start_epoch || step % every != 0) return;
    if (average_.empty()) {
      copy_from(net);
      return;
    }
    const float rho = float(std::pow(base, double(every)) * std::pow(double(step) / double(total), power));
    std::size_t k = 0;
    net.visit_parameters([&](parameter& p) {
      float* a = average_[k++].data();
      float* w = p.value.data();
      for (std::size_t i = 0; i < p.size(); ++i) w[i] = a[i] = rho * a[i] + (1.0f - rho) * w[i];
    });
  }

  // Call at the end of each epoch: the weights become the average.
  template <class Net>
  void end_epoch(Net& net) {
    if (average_.empty()) return;
    std::size_t k = 0;
    net.visit_parameters([&](parameter& p) {
      const std::vector<float>& a = average_[k++];
      std::copy(a.begin(), a.end(), p.value.begin());
    });
  }

 private:
  template <class Net>
  void copy_from(Net& net) {
    average_.clear();
    net.visit_parameters([&](parameter& p) { average_.emplace_back(p.value.begin(), p.value.end()); });
  }
  std::vector<std::vector<float>> average_;
};

}  // namespace nibble
