#pragma once
// One optimisation step on one batch, the unit the trainer repeats:
// forward, softmax cross-entropy, backward, gradient-norm clip, optimizer
// step, then the scheme's post-step clip of the master weights.
#include <cmath>
#include <cstdint>
#include <span>

#include "nibble/core/context.hpp"
#include "nibble/core/shape.hpp"
#include "nibble/train/loss.hpp"
#include "nibble/train/optimizer.hpp"

namespace nibble {

struct step_result {
  double loss = 0.0;          // mean over the batch
  std::size_t correct = 0;    // arg-max hits
  double gradient_norm = 0;   // global L2 norm before clipping
  bool applied = false;       // false: the loss or gradient was not finite and nothing changed
};

// grad_clip is the largest global gradient norm (0: no clipping); grad is
// the caller's buffer for dL/dlogits, kept so that steps allocate nothing;
// label_smoothing mixes ε/classes into the one-hot targets.
// A non-finite loss or gradient norm leaves the weights and the optimizer
// untouched (applied = false), so a diverging run cannot spoil its state;
// only batch-norm running statistics have seen the forward pass.
template <class Net, class Optimizer>
step_result train_step(Net& net, Optimizer& opt, const activation& images, std::span<const std::int32_t> labels,
                       float lr, double grad_clip, activation& grad, context& ctx, float label_smoothing = 0.0f) {
  const loss_result r = softmax_cross_entropy(net.forward(images, ctx), labels, grad, label_smoothing);
  step_result s{r.loss, r.correct, 0.0, false};
  if (!std::isfinite(r.loss)) return s;
  net.backward(grad, nullptr, ctx);
  s.gradient_norm = clip_gradient_norm(net, grad_clip);
  if (!std::isfinite(s.gradient_norm)) return s;
  opt.step(net, lr);
  net.post_step();
  s.applied = true;
  return s;
}

}  // namespace nibble
