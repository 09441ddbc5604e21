#pragma once
// Optimizers over a network's parameters (in visit order): AdamW with
// decoupled weight decay, and SGD with momentum / Nesterov. Both keep their
// state as flat float vectors so checkpoints can store it verbatim.
#include <cmath>
#include <cstdint>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <vector>

#include "nibble/core/parameter.hpp"
#include "nibble/kernels/elementwise.hpp"

namespace nibble {

namespace detail {
inline void write_floats(std::ostream& out, const std::vector<std::vector<float>>& state) {
  const std::uint64_t count = state.size();
  out.write(reinterpret_cast<const char*>(&count), sizeof count);
  for (const auto& v : state) {
    const std::uint64_t n = v.size();
    out.write(reinterpret_cast<const char*>(&n), sizeof n);
    out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(n * sizeof(float)));
  }
}
inline void read_floats(std::istream& in, std::vector<std::vector<float>>& state) {
  std::uint64_t count = 0;
  in.read(reinterpret_cast<char*>(&count), sizeof count);
  if (!in || count > (1u << 20)) throw std::runtime_error("optimizer state is corrupt");
  state.resize(count);
  for (auto& v : state) {
    std::uint64_t n = 0;
    in.read(reinterpret_cast<char*>(&n), sizeof n);
    if (!in || n > (1ull << 32)) throw std::runtime_error("optimizer state is corrupt");
    v.resize(n);
    in.read(reinterpret_cast<char*>(v.data()), std::streamsize(n * sizeof(float)));
  }
  if (!in) throw std::runtime_error("optimizer state is truncated");
}
}  // namespace detail

struct adamw {
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
    std::size_t k = 0;
    net.visit_parameters([&](parameter& p) {
      if (m.size() <= k) {
        m.emplace_back(p.size(), 0.0f);
        v.emplace_back(p.size(), 0.0f);
      }
      kernels::adamw_update(p.value.data(), p.grad.data(), m[k].data(), v[k].data(), p.size(), constants);
      ++k;
    });
  }
  void save(std::ostream& out) const {
    out.write(reinterpret_cast<const char*>(&steps), sizeof steps);
    detail::write_floats(out, m);
    detail::write_floats(out, v);
  }
  void load(std::istream& in) {
    in.read(reinterpret_cast<char*>(&steps), sizeof steps);
    detail::read_floats(in, m);
    detail::read_floats(in, v);
  }
};

// SGD with momentum; Nesterov uses g + μ·buf as PyTorch does. Weight decay
// is added to the gradient (L2), as in torch.optim.SGD.
struct sgd {
  float momentum = 0.9f, weight_decay = 5e-4f;
  bool nesterov = false;
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
      for (std::size_t i = 0; i < p.size(); ++i) {
        const float g = grad[i] + weight_decay * w[i];
        b[i] = steps == 1 ? g : momentum * b[i] + g;
        w[i] -= lr * (nesterov ? g + momentum * b[i] : b[i]);
      }
      ++k;
    });
  }
  void save(std::ostream& out) const {
    out.write(reinterpret_cast<const char*>(&steps), sizeof steps);
    detail::write_floats(out, buffers);
  }
  void load(std::istream& in) {
    in.read(reinterpret_cast<char*>(&steps), sizeof steps);
    detail::read_floats(in, buffers);
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
