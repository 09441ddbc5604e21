#pragma once
// One optimisation step on one batch, the unit the trainer repeats:
// forward, softmax cross-entropy, backward, gradient-norm clip, optimizer
// step, then the scheme's post-step clip of the master weights.
#include <cstdint>
#include <span>

#include "nibble/core/context.hpp"
#include "nibble/core/shape.hpp"
#include "nibble/train/loss.hpp"
#include "nibble/train/optimizer.hpp"

namespace nibble {

// grad_clip is the largest global gradient norm (0: no clipping); grad is
// the caller's buffer for dL/dlogits, kept so that steps allocate nothing.
template <class Net, class Optimizer>
loss_result train_step(Net& net, Optimizer& opt, const activation& images, std::span<const std::int32_t> labels,
                       float lr, double grad_clip, activation& grad, context& ctx) {
  const loss_result r = softmax_cross_entropy(net.forward(images, ctx), labels, grad);
  net.backward(grad, nullptr, ctx);
  if (grad_clip > 0.0) clip_gradient_norm(net, grad_clip);
  opt.step(net, lr);
  net.post_step();
  return r;
}

}  // namespace nibble
