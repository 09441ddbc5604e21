#pragma once
// Finite-difference gradient checks for bound layers and whole networks.
//
// The scalar checked is L = Σ r·y, where y is the layer's output on a fixed
// input x and r a fixed random tensor of the output's shape. Its analytic
// gradient comes from backward(dy = r); its numeric one from central
// differences (L(v + ε) − L(v − ε)) / 2ε on single entries of x and of the
// parameters, with L summed in double.
//
// Every forward starts from the same random state (ctx.rng and the
// context's counter-based draws are reset before
// each call), so stochastic layers such as dropout draw the same mask every
// time and the checked function is deterministic.
//
// Tolerances. The layers compute in float, so L carries rounding noise that
// the difference quotient divides by 2ε. With ε = 1e-2 a single layer's
// numeric gradient is good to about 1e-4; the default test
// |analytic − numeric| <= 2e-3 + 1e-2·|numeric| passes correct layers with
// error/tolerance below 0.1 and fails on a deliberately broken formula (a
// batch-norm dx without its x̂·mean(dy·x̂) term, a missing γ, a flipped sign
// in col2im, a bias sum that skips an image, an unmasked dropout or ReLU
// gradient, a weight gradient that accumulates, ...). Blocks and whole
// networks need a smaller ε and a looser tolerance (see the tests).
//
// Nothing here depends on Catch2: the checks return a report, and the tests
// decide what to assert on it.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "nibble/core/context.hpp"
#include "nibble/core/parameter.hpp"
#include "nibble/core/shape.hpp"

namespace nibble_test {

using nibble::activation;
using nibble::context;
using nibble::parameter;

// ---------------------------------------------------------------------------
// Inputs

// N(0, sigma²) entries for a batch of `n` samples of `Shape`.
template <class Shape>
activation gaussian_input(std::size_t n, std::uint64_t seed, float sigma = 1.0f) {
  activation x;
  nibble::ensure_batch_shape<Shape>(x, n);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  for (auto& v : x) v = normal(rng);
  return x;
}

// Gaussian entries pushed away from zero: every |x| >= margin, so that a
// perturbation smaller than the margin never crosses ReLU's kink.
template <class Shape>
activation away_from_zero_input(std::size_t n, std::uint64_t seed, float margin) {
  activation x = gaussian_input<Shape>(n, seed);
  for (auto& v : x) v = v >= 0.0f ? v + margin : v - margin;
  return x;
}

// Pairwise distinct entries at least `spacing` apart (a shuffled arithmetic
// progression centred on zero): max pooling never sees a tie, and a
// perturbation below spacing / 2 never changes a window's winner.
template <class Shape>
activation distinct_input(std::size_t n, std::uint64_t seed, float spacing) {
  activation x;
  nibble::ensure_batch_shape<Shape>(x, n);
  std::vector<float> values(x.size());
  const float centre = 0.5f * float(values.size() - 1);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = (float(i) - centre) * spacing;
  std::mt19937_64 rng(seed);
  std::shuffle(values.begin(), values.end(), rng);
  std::copy(values.begin(), values.end(), x.begin());
  return x;
}

// ---------------------------------------------------------------------------
// A sequential network seen through the bound-layer interface, so the same
// checks run on whole networks.

template <class Net>
struct network_as_layer {
  using input_shape = typename Net::input_shape;
  using output_shape = typename Net::output_shape;
  Net& net;

  void forward(const activation& x, activation& y, context& ctx) {
    const activation& out = net.forward(x, ctx);
    std::copy(out.begin(), out.end(), y.begin());
  }
  void backward(const activation&, const activation&, const activation& dy, activation* dx, context& ctx) {
    net.backward(dy, dx, ctx);
  }
  template <class F>
  void visit_parameters(F&& f) {
    net.visit_parameters(f);
  }
};

// ---------------------------------------------------------------------------
// Probe: the loss of one layer on one input, and its derivatives.

// Entry `i` of `t` viewed as a flat array (row-major, like the layers see it).
inline float& flat(activation& t, std::size_t i) { return t.data()[i]; }

// Written into gradient buffers before backward, so that a backward which
// accumulates instead of overwriting (or skips entries) is caught.
inline constexpr float poison = 123.0f;

template <class L>
class gradient_probe {
 public:
  using input_shape = typename L::input_shape;
  using output_shape = typename L::output_shape;

  // `x` is copied; `r` must have the layer's output shape for x's batch.
  gradient_probe(L& layer, const activation& x, const activation& r, context& ctx)
      : layer_(layer), x_(x), r_(r), ctx_(ctx), rng0_(ctx.rng) {
    nibble::ensure_batch_shape<output_shape>(y_, x_.shape(0));
    nibble::ensure_batch_shape<input_shape>(dx_, x_.shape(0));
    layer_.visit_parameters([&](parameter& p) { params_.push_back(&p); });
  }

  // r with N(0, 1) entries for the output of a batch of n samples.
  static activation random_projection(std::size_t n, std::uint64_t seed) {
    return gaussian_input<output_shape>(n, seed);
  }

  // L = Σ r·y after one forward from the fixed random state.
  double loss() {
    forward();
    double s = 0.0;
    for (std::size_t i = 0; i < y_.size(); ++i) s += double(r_.data()[i]) * double(y_.data()[i]);
    return s;
  }

  // forward then backward(dy = r) at the unperturbed point. Afterwards
  // input_gradient() and each parameter's grad hold the analytic gradient.
  void analytic() {
    forward();
    dx_.fill(poison);
    for (parameter* p : params_) p->grad.fill(poison);
    layer_.backward(x_, y_, r_, &dx_, ctx_);
    grads_.clear();
    for (parameter* p : params_) grads_.push_back(std::vector<float>(p->grad.begin(), p->grad.end()));
  }

  // The same, through backward(dx = nullptr): only parameter gradients.
  void analytic_without_input_gradient() {
    forward();
    for (parameter* p : params_) p->grad.fill(poison);
    layer_.backward(x_, y_, r_, nullptr, ctx_);
  }

  const activation& input_gradient() const { return dx_; }
  const activation& output() const { return y_; }
  const std::vector<parameter*>& parameters() const { return params_; }
  // Parameter gradients as analytic() left them (later forwards may not
  // touch parameter::grad, but the copy makes that irrelevant).
  const std::vector<std::vector<float>>& parameter_gradients() const { return grads_; }

  struct numeric_derivative {
    double central = 0.0;
    // One-sided differences; far apart only where the function has a kink
    // (ReLU, max) inside [v − ε, v + ε].
    double forward = 0.0, backward = 0.0;
  };

  numeric_derivative input_derivative(std::size_t i, float eps, bool one_sided) {
    return derivative(flat(x_, i), eps, one_sided);
  }
  numeric_derivative parameter_derivative(std::size_t p, std::size_t i, float eps, bool one_sided) {
    return derivative(params_[p]->value(i), eps, one_sided);
  }

 private:
  void forward() {
    ctx_.rng = rng0_;
    ctx_.begin_step(ctx_.step);  // the same counter-based draws too
    layer_.forward(x_, y_, ctx_);
  }

  template <class Slot>
  numeric_derivative derivative(Slot& v, float eps, bool one_sided) {
    const float orig = v;
    const float up = orig + eps, down = orig - eps;
    v = up;
    const double lp = loss();
    v = down;
    const double lm = loss();
    numeric_derivative d;
    // Divide by the step actually taken, not by the nominal 2ε.
    d.central = (lp - lm) / (double(up) - double(down));
    if (one_sided) {
      v = orig;
      const double l0 = loss();
      d.forward = (lp - l0) / (double(up) - double(orig));
      d.backward = (l0 - lm) / (double(orig) - double(down));
    }
    v = orig;
    return d;
  }

  L& layer_;
  activation x_, r_, y_, dx_;
  context& ctx_;
  std::mt19937_64 rng0_;
  std::vector<parameter*> params_;
  std::vector<std::vector<float>> grads_;
};

// ---------------------------------------------------------------------------
// Checks

struct gradient_check_options {
  float eps = 1e-2f;
  // An entry passes when |analytic − numeric| <= abs_tol + rel_tol·|numeric|.
  double abs_tol = 2e-3;
  double rel_tol = 1e-2;
  // Entries checked per tensor (input, and each parameter); 0 = all.
  std::size_t input_samples = 64;
  std::size_t parameter_samples = 24;
  bool check_input = true;
  bool check_weights = true;           // parameters with role weight
  bool check_other_parameters = true;  // biases and batch-norm γ, β
  // Learned quantizer steps (LSQ) have an estimated gradient, not the
  // derivative of the staircase: they are checked against Esser et al.'s
  // formula instead (test_layers_gradients.cpp, check_quantized_layer).
  bool check_steps = false;
  // For functions with kinks (ReLU, max): where the central difference
  // misses and the two one-sided differences disagree (a kink lies within
  // ε), accept an analytic gradient that matches one of the one-sided
  // differences. At most a quarter of the entries may pass this way.
  bool allow_kinks = false;
  std::uint64_t seed = 7;  // for r and the choice of entries
};

struct gradient_mismatch {
  std::string tensor;
  std::size_t index;
  double analytic, numeric;
};

struct gradient_report {
  std::size_t checked = 0, failed = 0;
  std::size_t one_sided = 0;  // entries at a kink, passed by a one-sided difference
  double worst = 0.0;  // largest |analytic − numeric| / tolerance seen
  std::vector<gradient_mismatch> mismatches;  // the first few failures

  bool passed() const { return checked > 0 && failed == 0 && one_sided * 4 <= checked + one_sided; }

  static double tolerance(double numeric, const gradient_check_options& o) {
    return o.abs_tol + o.rel_tol * std::fabs(numeric);
  }
  static bool within(double analytic, double numeric, const gradient_check_options& o) {
    return std::fabs(analytic - numeric) <= tolerance(numeric, o);
  }

  void compare(const std::string& tensor, std::size_t index, double analytic, double numeric,
               const gradient_check_options& o) {
    ++checked;
    const double tol = tolerance(numeric, o);
    const double err = std::fabs(analytic - numeric);
    const double ratio = std::isfinite(err) ? err / tol : 1e300;
    worst = std::max(worst, ratio);
    if (!(err <= tol)) {
      ++failed;
      if (mismatches.size() < 8) mismatches.push_back({tensor, index, analytic, numeric});
    }
  }

  void merge(const gradient_report& o) {
    checked += o.checked;
    one_sided += o.one_sided;
    failed += o.failed;
    worst = std::max(worst, o.worst);
    for (const auto& m : o.mismatches)
      if (mismatches.size() < 8) mismatches.push_back(m);
  }

  std::string describe() const {
    std::ostringstream s;
    s << "checked " << checked << " by central differences and " << one_sided
      << " by one-sided differences at a kink; failed " << failed
      << ", worst error/tolerance " << worst;
    for (const auto& m : mismatches)
      s << "\n  " << m.tensor << "[" << m.index << "]: analytic " << m.analytic << ", numeric " << m.numeric;
    return s.str();
  }
};

// Indices 0..n-1, or `samples` of them chosen at random (sorted).
inline std::vector<std::size_t> sample_indices(std::size_t n, std::size_t samples, std::mt19937_64& rng) {
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  if (samples == 0 || samples >= n) return idx;
  std::shuffle(idx.begin(), idx.end(), rng);
  idx.resize(samples);
  std::sort(idx.begin(), idx.end());
  return idx;
}

// Checks dL/dx (on a sample of x's entries) and every parameter's gradient
// (on a sample of each) of `layer` at input x. The layer must be initialised;
// ctx decides train or eval mode and is restored to its random state.
template <class L>
gradient_report check_gradients(L& layer, const activation& x, context& ctx, const gradient_check_options& o = {}) {
  using probe_type = gradient_probe<L>;
  const std::size_t n = x.shape(0);
  const activation r = probe_type::random_projection(n, o.seed);
  const std::mt19937_64 rng0 = ctx.rng;
  probe_type probe(layer, x, r, ctx);
  probe.analytic();

  gradient_report report;
  std::mt19937_64 pick(o.seed + 1);
  auto check = [&](const std::string& tensor, std::size_t index, double analytic,
                   const typename probe_type::numeric_derivative& d) {
    if (o.allow_kinks && !report.within(analytic, d.central, o)) {
      // Not the central difference's derivative: if a kink lies on one side
      // of the entry, the one-sided difference on the other side is still a
      // derivative, and the analytic gradient must match it.
      const bool kink = !report.within(d.forward, d.backward, o);
      if (kink && (report.within(analytic, d.forward, o) || report.within(analytic, d.backward, o))) {
        ++report.one_sided;
        return;
      }
    }
    report.compare(tensor, index, analytic, d.central, o);
  };

  if (o.check_input) {
    const activation dx = probe.input_gradient();
    for (std::size_t i : sample_indices(x.size(), o.input_samples, pick))
      check("dx", i, dx.data()[i], probe.input_derivative(i, o.eps, o.allow_kinks));
  }
  const auto& params = probe.parameters();
  for (std::size_t p = 0; p < params.size(); ++p) {
    const auto role = params[p]->role;
    if (role == nibble::parameter_role::step && !o.check_steps) continue;
    if (role == nibble::parameter_role::weight ? !o.check_weights : !o.check_other_parameters) continue;
    const std::string name = "parameter " + std::to_string(p);
    const std::vector<float>& grad = probe.parameter_gradients()[p];
    for (std::size_t i : sample_indices(params[p]->size(), o.parameter_samples, pick))
      check(name, i, grad[i], probe.parameter_derivative(p, i, o.eps, o.allow_kinks));
  }
  ctx.rng = rng0;
  ctx.begin_step(ctx.step);
  return report;
}

// The same for a sequential network as a whole.
template <class Net>
gradient_report check_network_gradients(Net& net, const activation& x, context& ctx,
                                        const gradient_check_options& o = {}) {
  network_as_layer<Net> adapter{net};
  return check_gradients(adapter, x, ctx, o);
}

}  // namespace nibble_test
