#pragma once
// Optimizers over a network's parameters (in visit order): AdamW with
// decoupled weight decay, and SGD with momentum / Nesterov. Both keep their
// state as flat float vectors so checkpoints can store it verbatim.
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "nibble/core/parameter.hpp"
#include "nibble/io/byte_order.hpp"
#include "nibble/kernels/elementwise.hpp"

namespace nibble {

namespace detail {
// Optimizer state in a checkpoint: the step count, then one float array per
// parameter tensor (none before the first step).
inline void save_state(io::byte_writer& out, std::uint64_t steps, const std::vector<std::vector<float>>& state) {
  out.u64(steps);
  out.u64(state.size());
  for (const auto& v : state) out.floats(v);
}
// Refuses state that does not fit the network, so a step can never run past
// the end of a state array.
inline std::uint64_t load_state(io::byte_reader& in, std::vector<std::vector<float>>& state,
                                std::span<const std::size_t> parameter_sizes) {
  const std::uint64_t steps = in.u64("step count");
  const std::uint64_t count = in.count("number of state arrays", parameter_sizes.size());
  if (count != 0 && count != parameter_sizes.size())
    in.fail("it holds state for " + std::to_string(count) + " parameter tensors where the network has " +
            std::to_string(parameter_sizes.size()));
  std::vector<std::vector<float>> loaded(count);
  for (std::size_t k = 0; k < count; ++k) {
    loaded[k].resize(parameter_sizes[k]);
    in.floats(loaded[k], "state of parameter tensor " + std::to_string(k));
  }
  state = std::move(loaded);
  return steps;
}
inline std::string number(float v) { return fmt::format("{}", v); }  // shortest exact: 0.9f -> "0.9"
}  // namespace detail

// An optimizer has: a name and its settings (both recorded in checkpoints,
// so that a resume with other ones is noticed), step(net, lr), and
// save/load of its state.
struct adamw {
  static constexpr std::string_view name = "adamw";
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f, weight_decay = 5e-4f;
  std::uint64_t steps = 0;
  std::vector<std::vector<float>> m{}, v{};

  // One update with learning rate lr, as torch.optim.AdamW does it.
  template <class Net>
  void step(Net& net, float lr) {
    ++steps;
    const float c1 = 1.0f - std::pow(beta1, float(steps)), c2 = 1.0f - std::pow(beta2, float(steps));
    const kernels::adamw_constants constants{beta1, beta2, epsilon, 1.0f - lr * weight_decay, lr / c1,
                                             1.0f / std::sqrt(c2)};
    kernels::adamw_constants undecayed = constants;  // learned steps: decay would only shrink the grid
    undecayed.decay = 1.0f;
    std::size_t k = 0;
    net.visit_parameters([&](parameter& p) {
      if (m.size() <= k) {
        m.emplace_back(p.size(), 0.0f);
        v.emplace_back(p.size(), 0.0f);
      }
      kernels::adamw_update(p.value.data(), p.grad.data(), m[k].data(), v[k].data(), p.size(),
                            p.role == parameter_role::step ? undecayed : constants);
      ++k;
    });
  }
  std::vector<std::pair<std::string, std::string>> settings() const {
    return {{"beta1", detail::number(beta1)},
            {"beta2", detail::number(beta2)},
            {"epsilon", detail::number(epsilon)},
            {"weight_decay", detail::number(weight_decay)}};
  }
  void save(io::byte_writer& out) const {
    detail::save_state(out, steps, m);
    detail::save_state(out, steps, v);
  }
  void load(io::byte_reader& in, std::span<const std::size_t> parameter_sizes) {
    const std::uint64_t s = detail::load_state(in, m, parameter_sizes);
    if (detail::load_state(in, v, parameter_sizes) != s || m.size() != v.size())
      in.fail("its first and second moments disagree");
    steps = s;
  }
};

// SGD with momentum; Nesterov uses g + μ·buf as PyTorch does. Weight decay
// is added to the gradient (L2), as in torch.optim.SGD.
// norm_rate_factor multiplies the rate of the batch-norm parameters and
// divides their weight decay, so that the shrink per step, rate × decay,
// stays the weights' (airbench trains its norm shifts at 64× the rate).
struct sgd {
  static constexpr std::string_view name = "sgd";
  float momentum = 0.9f, weight_decay = 5e-4f;
  bool nesterov = false;
  float norm_rate_factor = 1.0f;
  std::uint64_t steps = 0;
  std::vector<std::vector<float>> buffers{};

  template <class Net>
  void step(Net& net, float lr) {
    ++steps;
    std::size_t k = 0;
    net.visit_parameters([&](parameter& p) {
      if (buffers.size() <= k) buffers.emplace_back(p.size(), 0.0f);
      float* w = p.value.data();
      const float* grad = p.grad.data();
      float* b = buffers[k].data();
      const bool norm = p.role == parameter_role::norm;
      const float decay = p.role == parameter_role::step ? 0.0f  // as in adamw
                          : norm                         ? weight_decay / norm_rate_factor
                                                         : weight_decay;
      const float rate = norm ? lr * norm_rate_factor : lr;
      for (std::size_t i = 0; i < p.size(); ++i) {
        const float g = grad[i] + decay * w[i];
        b[i] = steps == 1 ? g : momentum * b[i] + g;
        w[i] -= rate * (nesterov ? g + momentum * b[i] : b[i]);
      }
      ++k;
    });
  }
  std::vector<std::pair<std::string, std::string>> settings() const {
    std::vector<std::pair<std::string, std::string>> s = {{"momentum", detail::number(momentum)},
                                                          {"weight_decay", detail::number(weight_decay)},
                                                          {"nesterov", nesterov ? "true" : "false"}};
    // Only when set, so that checkpoints from before it resume.
    if (norm_rate_factor != 1.0f) s.emplace_back("norm_rate_factor", detail::number(norm_rate_factor));
    return s;
  }
  void save(io::byte_writer& out) const { detail::save_state(out, steps, buffers); }
  void load(io::byte_reader& in, std::span<const std::size_t> parameter_sizes) {
    steps = detail::load_state(in, buffers, parameter_sizes);
  }
};

// Scales all gradients so their global L2 norm is at most max_norm (as
// torch.nn.utils.clip_grad_norm_). Returns the norm before clipping.
template <class Net>
double clip_gradient_norm(Net& net, double max_norm) {
  double sq = 0.0;
  net.visit_parameters([&](parameter& p) { sq += kernels::sum_of_squares(p.grad.data(), p.size()); });
  const double norm = std::sqrt(sq);
  if (max_norm > 0.0 && norm > max_norm) {
    const float factor = float(max_norm / (norm + 1e-6));
    net.visit_parameters([&](parameter& p) { kernels::scale(p.grad.data(), p.size(), factor); });
  }
  return norm;
}

}  // namespace nibble
