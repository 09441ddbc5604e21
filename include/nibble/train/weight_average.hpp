#pragma once
// An exponential moving average of a network's parameters, kept beside
// training (Polyak averaging with a decay, as in the fast CIFAR-10 recipes).
// While the learning rate is still high, the averaged weights often score
// higher than the last ones; the trainer evaluates both and records both,
// so a recipe uses it only where it is seen to help.
//
// Every parameter is averaged: weights, biases, batch-norm scale and shift,
// learned quantizer steps. Buffers are not: some hold flags (a grid's zero
// point, whether an input is signed) that an average would spoil. The live
// batch-norm statistics and activation ranges belong to the live weights,
// though, so with_average refreshes them for the averaged weights with a
// few forward passes in training mode before they are evaluated, and puts
// the live ones back after.
//
// The decay warms up as (1 + t)/(10 + t) after t updates until it reaches
// its setting, so the first averages are not held back by the random
// initialisation; the first update copies.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "nibble/core/context.hpp"
#include "nibble/core/parameter.hpp"
#include "nibble/core/shape.hpp"
#include "nibble/io/byte_order.hpp"

namespace nibble {

class weight_average {
 public:
  explicit weight_average(float decay) : decay_(decay) {
    if (!(decay > 0.0f && decay < 1.0f))
      throw std::invalid_argument(fmt::format("the weight average's decay must lie between 0 and 1 (got {})", decay));
  }

  float decay() const { return decay_; }
  std::uint64_t updates() const { return updates_; }
  // The weight of the old average in the next update.
  float next_decay() const { return std::min(decay_, float(1 + updates_) / float(10 + updates_)); }

  // Folds the network's parameters as they are now into the average.
  template <class Net>
  void update(Net& net) {
    const float keep = updates_ == 0 ? 0.0f : next_decay();
    std::size_t k = 0;
    net.visit_parameters([&](parameter& p) {
      if (values_.size() <= k) values_.emplace_back(p.value.begin(), p.value.end());
      float* a = values_[k].data();
      const float* w = p.value.data();
      for (std::size_t i = 0; i < p.size(); ++i) a[i] = keep * a[i] + (1.0f - keep) * w[i];
      ++k;
    });
    ++updates_;
  }

  // Exchanges the averaged parameters with the network's own; a second call
  // puts the network's back. Needs at least one update.
  template <class Net>
  void swap_into(Net& net) {
    if (updates_ == 0) throw std::logic_error("nibble::weight_average: nothing averaged yet");
    std::size_t k = 0;
    net.visit_parameters([&](parameter& p) {
      std::swap_ranges(values_[k].begin(), values_[k].end(), p.value.begin());
      ++k;
    });
  }

  // The state as a checkpoint stores it: decay, updates, one array per
  // parameter tensor.
  void save(io::byte_writer& out) const {
    out.f32(decay_);
    out.u64(updates_);
    out.u64(values_.size());
    for (const auto& v : values_) out.floats(v);
  }
  // Refuses state of another decay or another network's sizes, changing nothing.
  void load(io::byte_reader& in, std::span<const std::size_t> parameter_sizes) {
    const float decay = in.f32("decay");
    if (decay != decay_)
      in.fail(fmt::format("it averages with decay {}, but this run asks for {}", decay, decay_));
    const std::uint64_t updates = in.u64("number of updates");
    const std::uint64_t count = in.count("number of averaged tensors", parameter_sizes.size());
    if ((updates == 0) != (count == 0) || (count != 0 && count != parameter_sizes.size()))
      in.fail(fmt::format("it holds {} averaged tensors after {} updates, where the network has {}", count, updates,
                          parameter_sizes.size()));
    std::vector<std::vector<float>> values(count);
    for (std::size_t k = 0; k < count; ++k) {
      values[k].resize(parameter_sizes[k]);
      in.floats(values[k], "averaged tensor " + std::to_string(k));
    }
    in.expect_end();
    updates_ = updates;
    values_ = std::move(values);
  }

 private:
  float decay_;
  std::uint64_t updates_ = 0;
  std::vector<std::vector<float>> values_;
};

// Runs f() with the average's parameters in `net` and buffers made for
// them: the batch-norm running statistics and activation ranges are
// refreshed by forward passes in training mode over the batches that
// next(x) writes into x until it returns false (with momentum 0.1, 50
// batches leave 0.5 % of the live statistics). Then the live parameters and
// buffers are put back, exactly, even if f throws. The passes use a
// context of their own, so no random stream of the run moves.
template <class Net, class NextBatch, class F>
void with_average(weight_average& average, Net& net, NextBatch&& next, F&& f) {
  std::vector<xt::xtensor<float, 1>> live;
  net.visit_buffers([&](xt::xtensor<float, 1>& b) { live.push_back(b); });
  average.swap_into(net);
  struct put_back {
    weight_average& average;
    Net& net;
    std::vector<xt::xtensor<float, 1>>& live;
    ~put_back() {
      average.swap_into(net);
      std::size_t k = 0;
      net.visit_buffers([&](xt::xtensor<float, 1>& b) { b = live[k++]; });
    }
  } guard{average, net, live};
  context refresh{.phase = mode::train};
  activation x;
  for (std::uint64_t step = 0; next(x); ++step) {
    refresh.begin_step(step);
    net.forward(x, refresh);
  }
  f();
}

}  // namespace nibble
