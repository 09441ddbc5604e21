// Gradients of every layer against finite differences, and the forward
// passes of conv2d and linear against naive loops.
#include <catch2/catch.hpp>

#include <nibble/layers/avg_pool2d.hpp>
#include <nibble/layers/batch_norm.hpp>
#include <nibble/layers/conv2d.hpp>
#include <nibble/layers/depthwise_conv2d.hpp>
#include <nibble/layers/dropout.hpp>
#include <nibble/layers/fixed_scale.hpp>
#include <nibble/layers/gelu.hpp>
#include <nibble/layers/patch_whitening.hpp>
#include <nibble/layers/flatten.hpp>
#include <nibble/layers/global_avg_pool.hpp>
#include <nibble/layers/linear.hpp>
#include <nibble/layers/max_pool2d.hpp>
#include <nibble/layers/relu.hpp>
#include <nibble/net/residual.hpp>
#include <nibble/net/sequential.hpp>
#include <nibble/quant/presets.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gradient_check.hpp"

using namespace nibble;
using nibble_test::check_gradients;
using nibble_test::gradient_check_options;
using nibble_test::gradient_probe;

namespace {

using f32 = float32_scheme;
using per_channel_4bit = scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_channel, ste>;
using clipped_4bit = scheme<bits<4>, hard_clip<1.0f>, abs_max_per_tensor, clipped_ste>;
using clipped_per_channel_3bit = scheme<bits<3>, tanh_clip<3.0f>, abs_max_per_channel, clipped_ste>;
using stochastic_4bit = with_rounding_t<paper_4bit, stochastic_rounding>;
using lsq_4bit = scheme<bits<4>, no_clip, learned_step, clipped_ste>;
using lsq_per_channel_3bit = scheme<bits<3>, no_clip, learned_step_per_channel, clipped_ste>;
using percentile_4bit = scheme<bits<4>, tanh_clip<3.0f>, percentile_per_tensor<95.0f>, clipped_ste>;
using pot_4bit = scheme<power_of_two<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste>;
using pot_soft_4bit = scheme<power_of_two<4>, tanh_clip<3.0f>, abs_max_per_tensor, soft_staircase<0.5f, 0.05f>>;
using pot_soft_per_channel_3bit =
    scheme<power_of_two<3>, no_clip, abs_max_per_channel, soft_staircase<0.3f, 0.3f>>;
using lsq_a8 = scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, learned_activation_bits<8>>;
using uniform_soft_4bit = scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, soft_staircase<0.2f, 0.02f>>;
using stochastic_per_channel_3bit = scheme<bits<3>, tanh_clip<3.0f>, abs_max_per_channel, ste, stochastic_rounding>;

// init(rng), then biases and batch-norm γ, β drawn from U(0.5, 1.5): with
// γ = 1 and β = 0 a gradient that forgets a factor γ would go unnoticed.
template <class L>
void init_layer(L& layer, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  layer.init(rng);
  std::uniform_real_distribution<float> u(0.5f, 1.5f);
  layer.visit_parameters([&](parameter& p) {
    if (p.role != parameter_role::weight)
      for (auto& v : p.value) v = u(rng);
  });
}

// Runs the finite-difference check and reports it through Catch2; also
// checks that backward with dx = nullptr gives the same parameter gradients.
template <class L>
void require_gradients(L& layer, const activation& x, context& ctx, const gradient_check_options& o = {}) {
  const auto report = check_gradients(layer, x, ctx, o);
  INFO(report.describe());
  CHECK(report.passed());

  const activation r = gradient_probe<L>::random_projection(x.shape(0), o.seed);
  gradient_probe<L> probe(layer, x, r, ctx);
  probe.analytic();
  const auto with_dx = probe.parameter_gradients();
  probe.analytic_without_input_gradient();
  for (std::size_t p = 0; p < with_dx.size(); ++p)
    for (std::size_t i = 0; i < with_dx[p].size(); ++i)
      REQUIRE(probe.parameters()[p]->grad(i) == Approx(with_dx[p][i]).margin(1e-5));
}

template <class Spec, class Shape>
void check_layer(std::size_t batch, const activation& x, context& ctx, const gradient_check_options& o = {}) {
  using L = typename Spec::template bind<Shape>;
  L layer;
  init_layer(layer, 11);
  REQUIRE(x.shape(0) == batch);
  require_gradients(layer, x, ctx, o);
}

template <class Spec, class Shape>
void check_layer_gaussian(std::size_t batch = 3, const gradient_check_options& o = {}) {
  context ctx;
  const activation x = nibble_test::gaussian_input<Shape>(batch, 5);
  check_layer<Spec, Shape>(batch, x, ctx, o);
}

// Blocks and networks: every entry moves every output through batch norm,
// so float rounding in L weighs more (it grows as 1/ε), and a perturbation
// can cross ReLU or max-pool kinks anywhere downstream (their number grows
// with ε and with the size of the net). ε = 2e-3 and a looser tolerance
// pass 30 out of 30 random seeds for the block and the net below, with
// error/tolerance at most 0.8 to 0.9; a wrong formula inside them is still
// caught (the single layers are checked tightly above in any case).
void set_composite_tolerances(gradient_check_options& o) {
  o.eps = 2e-3f;
  o.abs_tol = 1e-2;
  o.rel_tol = 2e-2;
  o.allow_kinks = true;
}

// ---------------------------------------------------------------------------
// Naive references

// y[n][o][oy][ox] = b[o] + Σ_{c,ky,kx} W[o][c][ky][kx] · x[n][c][oy·S + ky − P][ox·S + kx − P],
// c over filter o's group of input channels (all of them when groups = 1;
// its own channel alone when groups = channels = out: depthwise).
activation naive_conv(const activation& x, const std::vector<float>& w, const xt::xtensor<float, 1>& b,
                      std::size_t out, std::size_t k, std::size_t stride, std::size_t pad, std::size_t groups = 1) {
  const std::size_t n = x.shape(0), c = x.shape(1), h = x.shape(2), wd = x.shape(3);
  const std::size_t oh = (h + 2 * pad - k) / stride + 1, ow = (wd + 2 * pad - k) / stride + 1;
  const std::size_t group_in = c / groups, group_out = out / groups;
  activation y = xt::zeros<float>({n, out, oh, ow});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t o = 0; o < out; ++o)
      for (std::size_t oy = 0; oy < oh; ++oy)
        for (std::size_t ox = 0; ox < ow; ++ox) {
          double s = b(o);
          for (std::size_t j = 0; j < group_in; ++j)
            for (std::size_t ky = 0; ky < k; ++ky)
              for (std::size_t kx = 0; kx < k; ++kx) {
                const std::size_t ci = o / group_out * group_in + j;
                const long iy = long(oy * stride + ky) - long(pad), ix = long(ox * stride + kx) - long(pad);
                if (iy < 0 || ix < 0 || iy >= long(h) || ix >= long(wd)) continue;
                s += double(w[((o * group_in + j) * k + ky) * k + kx]) *
                     double(x(i, ci, std::size_t(iy), std::size_t(ix)));
              }
          y(i, o, oy, ox) = float(s);
        }
  return y;
}

// A depthwise convolution: groups = channels.
activation naive_depthwise(const activation& x, const std::vector<float>& w, const xt::xtensor<float, 1>& b,
                           std::size_t k, std::size_t stride, std::size_t pad) {
  return naive_conv(x, w, b, x.shape(1), k, stride, pad, x.shape(1));
}

// y[n][o] = b[o] + Σ_f W[o][f] · x[n][f].
activation naive_linear(const activation& x, const std::vector<float>& w, const xt::xtensor<float, 1>& b,
                        std::size_t out) {
  const std::size_t n = x.shape(0), f = x.shape(1);
  activation y = xt::zeros<float>({n, out, std::size_t{1}, std::size_t{1}});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t o = 0; o < out; ++o) {
      double s = b(o);
      for (std::size_t j = 0; j < f; ++j) s += double(w[o * f + j]) * double(x(i, j, 0, 0));
      y(i, o, 0, 0) = float(s);
    }
  return y;
}

// The product of layer Q (a linear layer, a 3x3 conv2d or depthwise_conv2d
// with stride 1 and padding 1) from its definition.
template <class Q>
activation naive_product(const activation& x, const std::vector<float>& w, const xt::xtensor<float, 1>& b) {
  constexpr std::size_t out = Q::output_shape::channels;
  if constexpr (Q::input_shape::is_flat)
    return naive_linear(x, w, b, out);
  else if constexpr (requires { Q::depthwise; })
    return naive_depthwise(x, w, b, 3, 1, 1);
  else
    return naive_conv(x, w, b, out, 3, 1, 1);
}

void require_close(const activation& got, const activation& want) {
  REQUIRE(got.shape() == want.shape());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const float g = got.data()[i], w = want.data()[i];
    INFO("entry " << i);
    REQUIRE(std::fabs(g - w) <= 1e-4f * (1.0f + std::fabs(w)));
  }
}

// The layer's forward pass against `reference(x, weights, bias)`. The
// reference uses the weights the layer says it used, so the check covers
// quantized layers too; for float32 they are the master weights.
template <class Spec, class Shape, class Reference>
void check_forward(std::size_t batch, std::uint64_t seed, Reference reference) {
  using L = typename Spec::template bind<Shape>;
  L layer;
  init_layer(layer, seed);
  context ctx;
  const activation x = nibble_test::gaussian_input<Shape>(batch, seed + 1);
  activation y;
  ensure_batch_shape<typename L::output_shape>(y, batch);
  layer.forward(x, y, ctx);
  if constexpr (!L::scheme_type::quantized)
    REQUIRE(std::equal(layer.quantized_weights().begin(), layer.quantized_weights().end(),
                       layer.weight.value.begin()));
  require_close(y, reference(x, layer.quantized_weights(), layer.bias.value));
}

template <class Spec, class Shape, std::size_t Out, std::size_t K, std::size_t Stride, std::size_t Pad>
void check_conv_forward(std::size_t batch) {
  check_forward<Spec, Shape>(batch, 21, [](const auto& x, const auto& w, const auto& b) {
    return naive_conv(x, w, b, Out, K, Stride, Pad);
  });
}

template <class Spec, class Shape, std::size_t Out>
void check_linear_forward(std::size_t batch) {
  check_forward<Spec, Shape>(batch, 31, [](const auto& x, const auto& w, const auto& b) {
    return naive_linear(x, w, b, Out);
  });
}

// ---------------------------------------------------------------------------
// Quantized layers. The output is linear in x for fixed quantized weights,
// so dx and the bias gradient are checked by finite differences on the
// quantized layer itself. The weight gradient is defined through the
// estimator, dL/dW = estimator'(W) · dL/dWq: dL/dWq is found by finite
// differences on a float32 twin whose weights are the quantized ones.

template <class QSpec, class FSpec, class Shape>
void check_quantized_layer(std::size_t batch, std::uint64_t seed) {
  using Q = typename QSpec::template bind<Shape>;
  using F = typename FSpec::template bind<Shape>;
  using S = typename Q::scheme_type;
  static_assert(S::quantized && !F::scheme_type::quantized);
  static_assert(std::is_same_v<typename Q::output_shape, typename F::output_shape>);

  Q q;
  init_layer(q, seed);
  if constexpr (S::per_channel) {
    // Rows of very different magnitude, so that a per-channel scale used
    // for the wrong row would show.
    for (std::size_t i = 0; i < q.weight.size(); ++i) q.weight.value(i) *= float(1 + 3 * (i / Q::fan_in));
  }
  if constexpr (S::learned_scale) {
    // Steps for these weights, halved so that some weights saturate and
    // both branches of the step's gradient are taken.
    q.reset_steps();
    for (float& v : q.step.value) v *= 0.5f;
  }
  context ctx;
  const activation x = nibble_test::gaussian_input<Shape>(batch, seed + 1);

  // (a) dx and the bias gradient.
  gradient_check_options o;
  o.check_weights = false;
  o.input_samples = 0;
  require_gradients(q, x, ctx, o);

  // (b) the weight gradient.
  const activation r = gradient_probe<Q>::random_projection(batch, o.seed);
  gradient_probe<Q> qprobe(q, x, r, ctx);
  qprobe.analytic();
  const std::vector<float> wq = q.quantized_weights();
  const std::vector<float> scales = q.scales();
  REQUIRE(scales.size() == S::scale_count(Q::output_shape::channels));
  REQUIRE(wq.size() == q.weight.size());

  // The quantized weights lie on the integer grid and differ from the
  // master weights (otherwise the twin would test nothing).
  std::size_t differ = 0;
  for (std::size_t i = 0; i < wq.size(); ++i) {
    const float s = scales[S::per_channel ? i / Q::fan_in : 0];
    const float c = wq[i] / s;
    if (!S::estimator::soft) REQUIRE(std::fabs(c - std::nearbyint(c)) < 1e-3f);  // a soft staircase lies between
    REQUIRE(std::fabs(c) <= float(S::qmax) + 1e-3f);
    differ += wq[i] != q.weight.value(i);
  }
  REQUIRE(differ > wq.size() / 2);

  F twin;
  std::copy(wq.begin(), wq.end(), twin.weight.value.begin());
  twin.bias.value = q.bias.value;
  gradient_probe<F> fprobe(twin, x, r, ctx);
  // The twin computes the same function as the quantized layer.
  REQUIRE(fprobe.loss() == Approx(qprobe.loss()).epsilon(1e-5));

  nibble_test::gradient_report report;
  std::mt19937_64 pick(seed + 2);
  for (std::size_t i : nibble_test::sample_indices(wq.size(), 48, pick)) {
    const double dl_dwq = fprobe.parameter_derivative(0, i, 1e-2f, false).central;
    const float s = scales[S::per_channel ? i / Q::fan_in : 0];
    double est = 0;
    if constexpr (S::estimator::soft)  // the soft staircase's own slope (checked on its own in test_quant_soft_staircase)
      est = soft_quantize<typename S::bit_width>(q.weight.value(i) / s, 1.0f / S::estimator::temperature(ctx.progress))
                .slope;
    else
      est = S::estimator::derivative(q.weight.value(i), s, float(S::qmax));
    report.compare("weight", i, q.weight.grad(i), est * dl_dwq, o);
  }
  if constexpr (S::learned_scale) {
    // Each learned step's gradient: Esser et al.'s formula, written out here
    // on its own, with dL/dWq of every weight from the twin by finite
    // differences.
    const std::size_t groups = scales.size(), n = wq.size() / groups;
    const double q_max = S::qmax;
    for (std::size_t g = 0; g < groups; ++g) {
      double expected = 0;
      for (std::size_t i = g * n; i < (g + 1) * n; ++i) {
        const double x = double(q.weight.value(i)) / double(scales[g]);
        const double d = x <= -q_max ? -q_max : x >= q_max ? q_max : std::nearbyint(x) - x;
        expected += fprobe.parameter_derivative(0, i, 1e-2f, false).central * d;
      }
      expected /= std::sqrt(double(n) * q_max);
      report.compare("step", g, q.step.grad(g), expected, o);
    }
  }
  INFO(report.describe());
  CHECK(report.passed());
}

}  // namespace

// ---------------------------------------------------------------------------
// Float layers

TEST_CASE("conv2d gradients (float32): 3x3 with stride 1 and padding 1", "[layers][gradients][conv2d]") {
  check_layer_gaussian<conv2d<4, 3, f32>, shape<3, 6, 6>>();
}

TEST_CASE("conv2d gradients (float32): 3x3 with stride 2", "[layers][gradients][conv2d]") {
  check_layer_gaussian<conv2d<4, 3, f32, 2>, shape<3, 6, 6>>();
  check_layer_gaussian<conv2d<3, 3, f32, 2, 0>, shape<2, 7, 7>>();
}

TEST_CASE("conv2d gradients (float32): 1x1 and 5x5 kernels", "[layers][gradients][conv2d]") {
  check_layer_gaussian<conv2d<5, 1, f32>, shape<3, 6, 6>>();
  check_layer_gaussian<conv2d<3, 5, f32>, shape<2, 6, 6>>();
}

TEST_CASE("conv2d gradients (float32): padding 0 and padding beyond K/2", "[layers][gradients][conv2d]") {
  check_layer_gaussian<conv2d<3, 3, f32, 1, 0>, shape<2, 7, 7>>();
  check_layer_gaussian<conv2d<3, 3, f32, 1, 2>, shape<2, 5, 5>>();
  check_layer_gaussian<conv2d<2, 3, f32, 1, 3>, shape<2, 4, 4>>();
  check_layer_gaussian<conv2d<3, 5, f32, 2, 1>, shape<2, 7, 7>>();
}

TEST_CASE("conv2d gradients (float32): sizes past one GEMM block", "[layers][gradients][conv2d]") {
  // batch·pixels = 300 for the weight gradient and Out·K·K = 270 for the
  // input gradient: both exceed the GEMM's K block of 256.
  check_layer_gaussian<conv2d<30, 3, f32>, shape<3, 10, 10>>(3);
  check_layer_gaussian<conv2d<30, 3, f32, 2>, shape<3, 12, 12>>(8);
  // 16·3·3 = 144 columns of dW: threads split the columns rather than the images.
  check_layer_gaussian<conv2d<4, 3, f32>, shape<16, 5, 5>>(3);
}

TEST_CASE("conv2d gradients (float32): rows of 16 and 32 pixels (the direct kernel)", "[layers][gradients][conv2d]") {
  // Forward and the input gradient (a convolution of dy) both take the
  // direct kernel here.
  check_layer_gaussian<conv2d<5, 3, f32>, shape<3, 16, 16>>(2);
  check_layer_gaussian<conv2d<3, 3, f32>, shape<2, 2, 32>>(2);
}

TEST_CASE("conv2d gradients (float32): 16 input channels and more (the direct weight gradient)",
          "[layers][gradients][conv2d]") {
  check_layer_gaussian<conv2d<5, 3, f32>, shape<20, 8, 8>>(2);       // channels not a multiple of 12 or 16
  check_layer_gaussian<conv2d<33, 3, f32>, shape<16, 6, 6>>(2);      // a second panel of 1 output channel
  check_layer_gaussian<conv2d<4, 5, f32, 1, 2>, shape<16, 7, 7>>(2);  // 5x5, odd padded width
  check_layer_gaussian<conv2d<3, 3, f32, 1, 0>, shape<17, 7, 7>>(2);  // padding 0
  check_layer_gaussian<conv2d<6, 3, f32>, shape<16, 16, 16>>(2);     // direct forward and dx as well
  // Many images per thread: each one's copies overwrite the last one's.
  check_layer_gaussian<conv2d<4, 3, f32>, shape<16, 4, 4>>(20);
}

TEST_CASE("depthwise_conv2d gradients (float32): 3x3 at strides 1 and 2, 5x5, no padding",
          "[layers][gradients][depthwise]") {
  check_layer_gaussian<depthwise_conv2d<3, f32>, shape<4, 6, 6>>();
  check_layer_gaussian<depthwise_conv2d<3, f32, 2>, shape<3, 7, 7>>();
  check_layer_gaussian<depthwise_conv2d<3, f32, 2>, shape<3, 8, 8>>();
  check_layer_gaussian<depthwise_conv2d<5, f32>, shape<2, 6, 6>>();
  check_layer_gaussian<depthwise_conv2d<3, f32, 1, 0>, shape<2, 7, 5>>();
}

TEST_CASE("linear gradients (float32)", "[layers][gradients][linear]") {
  gradient_check_options o;
  o.input_samples = 0;
  check_layer_gaussian<linear<5, f32>, shape<12, 1, 1>>(3, o);
}

TEST_CASE("batch_norm 2d gradients in train mode (batch statistics)", "[layers][gradients][batch_norm]") {
  check_layer_gaussian<batch_norm, shape<4, 6, 6>>();
}

TEST_CASE("batch_norm_relu gradients in train mode (batch statistics)", "[layers][gradients][batch_norm]") {
  gradient_check_options o;
  o.allow_kinks = true;
  check_layer_gaussian<batch_norm_relu, shape<4, 6, 6>>(3, o);
}

TEST_CASE("batch_norm_relu equals batch_norm followed by relu, forward and backward", "[layers][batch_norm]") {
  using in_shape = shape<5, 4, 3>;
  batch_norm_layer<in_shape> bn;
  relu_layer<in_shape> act;
  batch_norm_layer<in_shape, true> fused;
  std::mt19937_64 rng(5);
  bn.init(rng);
  fused.init(rng);
  std::normal_distribution<float> normal;
  for (std::size_t c = 0; c < 5; ++c) {
    bn.gamma.value(c) = fused.gamma.value(c) = 1.0f + 0.3f * normal(rng);
    bn.beta.value(c) = fused.beta.value(c) = 0.5f * normal(rng);
  }
  for (const mode m : {mode::train, mode::eval}) {
    context ctx{.phase = m};
    activation x = nibble_test::gaussian_input<in_shape>(3, 9), mid = x, y1 = x, y2 = x, dy = x, dmid = x, dx1 = x, dx2 = x;
    for (auto& v : dy) v = normal(rng);
    bn.forward(x, mid, ctx);
    act.forward(mid, y1, ctx);
    fused.forward(x, y2, ctx);
    act.backward(mid, y1, dy, &dmid, ctx);
    bn.backward(x, mid, dmid, &dx1, ctx);
    fused.backward(x, y2, dy, &dx2, ctx);
    for (std::size_t i = 0; i < x.size(); ++i) {
      CHECK(y2.data()[i] == Approx(y1.data()[i]).margin(1e-6));
      CHECK(dx2.data()[i] == Approx(dx1.data()[i]).margin(1e-5));
    }
    for (std::size_t c = 0; c < 5; ++c) {
      CHECK(fused.gamma.grad(c) == Approx(bn.gamma.grad(c)).margin(1e-5));
      CHECK(fused.beta.grad(c) == Approx(bn.beta.grad(c)).margin(1e-5));
      CHECK(fused.running_mean(c) == Approx(bn.running_mean(c)));
      CHECK(fused.running_var(c) == Approx(bn.running_var(c)));
    }
  }
}

TEST_CASE("batch_norm 1d gradients in train mode (batch statistics)", "[layers][gradients][batch_norm]") {
  gradient_check_options o;
  o.eps = 2e-3f;
  o.input_samples = 0;
  check_layer_gaussian<batch_norm, shape<6, 1, 1>>(4, o);
}

namespace {
template <class Shape>
void check_batch_norm_eval(std::size_t batch) {
  batch_norm_layer<Shape> layer;
  init_layer(layer, 41);
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::uniform_real_distribution<float> u(0.5f, 2.0f);
  for (auto& m : layer.running_mean) m = normal(rng);
  for (auto& v : layer.running_var) v = u(rng);
  const auto mean0 = layer.running_mean;
  const auto var0 = layer.running_var;

  context ctx;
  ctx.phase = mode::eval;
  const activation x = nibble_test::gaussian_input<Shape>(batch, 43);
  require_gradients(layer, x, ctx);
  // Eval mode leaves the running statistics alone.
  REQUIRE((layer.running_mean == mean0));
  REQUIRE((layer.running_var == var0));
}
}  // namespace

TEST_CASE("batch_norm 2d and 1d gradients in eval mode (running statistics)", "[layers][gradients][batch_norm]") {
  check_batch_norm_eval<shape<4, 6, 6>>(3);
  check_batch_norm_eval<shape<6, 1, 1>>(4);
}

TEST_CASE("relu gradients", "[layers][gradients][relu]") {
  context ctx;
  const activation x = nibble_test::away_from_zero_input<shape<4, 6, 6>>(3, 51, 0.05f);
  check_layer<relu, shape<4, 6, 6>>(3, x, ctx);
}

TEST_CASE("max_pool2d<2> gradients (inputs without ties)", "[layers][gradients][max_pool2d]") {
  context ctx;
  const activation x = nibble_test::distinct_input<shape<3, 6, 6>>(3, 61, 0.05f);
  check_layer<max_pool2d<2>, shape<3, 6, 6>>(3, x, ctx);
}

TEST_CASE("dropout<0.5> gradients with a fixed mask", "[layers][gradients][dropout]") {
  context ctx;
  ctx.rng.seed(71);
  const activation x = nibble_test::gaussian_input<shape<4, 6, 6>>(3, 72);
  dropout_layer<shape<4, 6, 6>, 0.5f> layer;
  require_gradients(layer, x, ctx);

  // About half the entries are dropped, the rest scaled by 2.
  activation y;
  ensure_batch_shape<shape<4, 6, 6>>(y, 3);
  layer.forward(x, y, ctx);
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (y.data()[i] == 0.0f)
      ++dropped;
    else
      REQUIRE(y.data()[i] == 2.0f * x.data()[i]);
  }
  CHECK(dropped > x.size() / 3);
  CHECK(dropped < 2 * x.size() / 3);

  // Eval mode: the identity.
  ctx.phase = mode::eval;
  layer.forward(x, y, ctx);
  REQUIRE((y == x));
  require_gradients(layer, x, ctx);
}

TEST_CASE("flatten gradients", "[layers][gradients][flatten]") {
  check_layer_gaussian<flatten, shape<3, 4, 4>>();
}

TEST_CASE("global_avg_pool gradients", "[layers][gradients][global_avg_pool]") {
  gradient_check_options o;
  o.input_samples = 0;
  check_layer_gaussian<global_avg_pool, shape<4, 6, 6>>(3, o);
}

TEST_CASE("avg_pool2d gradients: 2x2 windows, overlapping 3x3 at stride 2, sizes left over",
          "[layers][gradients][avg_pool2d]") {
  gradient_check_options o;
  o.input_samples = 0;
  check_layer_gaussian<avg_pool2d<2>, shape<3, 6, 6>>(3, o);
  check_layer_gaussian<avg_pool2d<3, 2>, shape<2, 7, 7>>(3, o);
  check_layer_gaussian<avg_pool2d<2>, shape<2, 5, 7>>(3, o);  // the last row and column in no window
}

TEST_CASE("avg_pool2d: window means, and over the whole image global_avg_pool bit for bit", "[layers][avg_pool2d]") {
  context ctx;
  const activation x = nibble_test::gaussian_input<shape<3, 7, 7>>(2, 91);
  avg_pool2d_layer<shape<3, 7, 7>, 3, 2> pool;
  activation y;
  ensure_batch_shape<shape<3, 3, 3>>(y, 2);
  pool.forward(x, y, ctx);
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t oy = 0; oy < 3; ++oy)
        for (std::size_t ox = 0; ox < 3; ++ox) {
          double s = 0;
          for (std::size_t dy = 0; dy < 3; ++dy)
            for (std::size_t dx = 0; dx < 3; ++dx) s += x(n, c, oy * 2 + dy, ox * 2 + dx);
          REQUIRE(y(n, c, oy, ox) == Approx(s / 9).epsilon(1e-5).margin(1e-6));
        }
  const activation z = nibble_test::gaussian_input<shape<4, 8, 8>>(2, 92);
  avg_pool2d_layer<shape<4, 8, 8>, 8, 8> whole;
  global_avg_pool_layer<shape<4, 8, 8>> global;
  activation a, b;
  ensure_batch_shape<shape<4, 1, 1>>(a, 2);
  ensure_batch_shape<shape<4, 1, 1>>(b, 2);
  whole.forward(z, a, ctx);
  global.forward(z, b, ctx);
  REQUIRE((a == b));
}

TEST_CASE("residual<conv bn relu conv bn> gradients", "[layers][gradients][residual]") {
  using block = residual<conv2d<4, 3, f32>, batch_norm, relu, conv2d<4, 3, f32>, batch_norm>;
  gradient_check_options o;
  set_composite_tolerances(o);
  check_layer_gaussian<block, shape<4, 6, 6>>(3, o);
}

TEST_CASE("residual<projection<1x1 conv stride 2, bn>, conv stride 2 bn relu conv bn> gradients",
          "[layers][gradients][residual]") {
  // A block that halves the image and doubles the channels: its shortcut
  // is a chain of its own.
  using block = residual<projection<conv2d<8, 1, f32, 2, 0>, batch_norm>, conv2d<8, 3, f32, 2>, batch_norm, relu,
                         conv2d<8, 3, f32>, batch_norm>;
  using bound = block::bind<shape<4, 6, 6>>;
  static_assert(std::is_same_v<bound::output_shape, shape<8, 3, 3>>);
  static_assert(bound::parameter_count == (8 * 4 + 8 + 16) + (8 * 4 * 9 + 8 + 16) + (8 * 8 * 9 + 8 + 16));
  gradient_check_options o;
  set_composite_tolerances(o);
  check_layer_gaussian<block, shape<4, 6, 6>>(3, o);
}

TEST_CASE("a small sequential network's gradients as a whole", "[layers][gradients][sequential]") {
  // Batch norm only on images (many values per channel): 1-d batch norm
  // over a batch of 3 is too ill-conditioned for finite differences of the
  // whole net; it is checked on its own above.
  using net_type = sequential<input<2, 6, 6>,
      conv2d<3, 3, f32>, batch_norm, relu,
      max_pool2d<2>,
      residual<conv2d<3, 3, f32>, batch_norm, relu>,
      global_avg_pool, flatten,
      linear<4, f32>, relu, dropout<0.5f>,
      linear<3, f32>>;
  gradient_check_options o;
  set_composite_tolerances(o);
  o.parameter_samples = 12;

  for (mode phase : {mode::train, mode::eval}) {
    INFO((phase == mode::train ? "train" : "eval") << " mode");
    net_type net;
    init_layer(net, 81);
    context ctx;
    ctx.rng.seed(82);
    ctx.phase = phase;
    if (phase == mode::eval) {
      // Running statistics away from (0, 1), from a few training passes.
      context train;
      const activation warm = nibble_test::gaussian_input<input<2, 6, 6>>(4, 83, 2.0f);
      for (int i = 0; i < 5; ++i) net.forward(warm, train);
    }
    const activation x = nibble_test::gaussian_input<input<2, 6, 6>>(3, 84);
    const auto report = nibble_test::check_network_gradients(net, x, ctx, o);
    INFO(report.describe());
    CHECK(report.passed());
  }
}

// ---------------------------------------------------------------------------
// Quantized layers

// The quantized layers' checks below share one geometry each: a batch of 3
// through four 3x3 or 1x1 filters (stride 1 or 2) on 3x6x6, or five outputs from 12 inputs.
template <class Scheme, std::size_t Kernel, std::size_t Stride = 1>
void check_quantized_conv(std::uint64_t seed) {
  check_quantized_layer<conv2d<4, Kernel, Scheme, Stride>, conv2d<4, Kernel, f32, Stride>, shape<3, 6, 6>>(3, seed);
}

template <class Scheme>
void check_quantized_linear(std::uint64_t seed) {
  check_quantized_layer<linear<5, Scheme>, linear<5, f32>, shape<12, 1, 1>>(3, seed);
}

TEST_CASE("quantized conv2d gradients: dx exact and dW through the estimator", "[layers][gradients][quantized]") {
  SECTION("paper_4bit") { check_quantized_conv<paper_4bit, 3>(101); }
  SECTION("int8") { check_quantized_conv<int8_scheme, 3>(102); }
  SECTION("per-channel 4-bit") { check_quantized_conv<per_channel_4bit, 3, 2>(103); }
  SECTION("clipped_ste 4-bit") { check_quantized_conv<clipped_4bit, 3>(104); }
  SECTION("clipped_ste per-channel 3-bit") { check_quantized_conv<clipped_per_channel_3bit, 1>(105); }
  SECTION("stochastic rounding 4-bit") { check_quantized_conv<stochastic_4bit, 3>(106); }
  SECTION("learned step (LSQ) 4-bit") { check_quantized_conv<lsq_4bit, 3>(107); }
  SECTION("95th-percentile scale 4-bit, clipped_ste") { check_quantized_conv<percentile_4bit, 3>(108); }
  SECTION("power-of-two 4-bit, STE") { check_quantized_conv<pot_4bit, 3>(109); }
  SECTION("power-of-two 4-bit, soft staircase") { check_quantized_conv<pot_soft_4bit, 3>(110); }
  SECTION("uniform 4-bit, soft staircase") { check_quantized_conv<uniform_soft_4bit, 3>(120); }
}

TEST_CASE("quantized depthwise_conv2d gradients: dx exact and dW through the estimator",
          "[layers][gradients][quantized][depthwise]") {
  const auto check = []<class Scheme>(std::uint64_t seed) {
    check_quantized_layer<depthwise_conv2d<3, Scheme>, depthwise_conv2d<3, f32>, shape<4, 6, 6>>(3, seed);
  };
  SECTION("paper_4bit") { check.operator()<paper_4bit>(121); }
  SECTION("int8") { check.operator()<int8_scheme>(122); }
  SECTION("per-channel 4-bit") { check.operator()<per_channel_4bit>(123); }
  SECTION("learned step (LSQ) 4-bit") { check.operator()<lsq_4bit>(124); }
}

TEST_CASE("quantized linear gradients: dx exact and dW through the estimator", "[layers][gradients][quantized]") {
  SECTION("paper_4bit") { check_quantized_linear<paper_4bit>(111); }
  SECTION("int8") { check_quantized_linear<int8_scheme>(112); }
  SECTION("per-channel 4-bit") { check_quantized_linear<per_channel_4bit>(113); }
  SECTION("clipped_ste 4-bit") { check_quantized_linear<clipped_4bit>(114); }
  SECTION("clipped_ste per-channel 3-bit") { check_quantized_linear<clipped_per_channel_3bit>(115); }
  SECTION("stochastic rounding per-channel 3-bit") { check_quantized_linear<stochastic_per_channel_3bit>(116); }
  SECTION("learned step (LSQ) per-channel 3-bit") { check_quantized_linear<lsq_per_channel_3bit>(117); }
  SECTION("power-of-two per-channel 3-bit, soft staircase") { check_quantized_linear<pot_soft_per_channel_3bit>(118); }
}

// ---------------------------------------------------------------------------
// Forward passes against naive loops

TEST_CASE("conv2d forward matches a direct convolution", "[layers][conv2d][forward]") {
  check_conv_forward<conv2d<4, 3, f32>, shape<3, 6, 6>, 4, 3, 1, 1>(3);
  check_conv_forward<conv2d<4, 3, f32, 2>, shape<3, 7, 7>, 4, 3, 2, 1>(2);
  check_conv_forward<conv2d<5, 1, f32>, shape<3, 5, 6>, 5, 1, 1, 0>(2);
  check_conv_forward<conv2d<3, 5, f32>, shape<2, 6, 6>, 3, 5, 1, 2>(2);
  check_conv_forward<conv2d<3, 3, f32, 2, 0>, shape<2, 7, 7>, 3, 3, 2, 0>(2);
  // Large enough for the GEMM's K blocking (fan-in 400 > 256) and partial tiles.
  check_conv_forward<conv2d<20, 5, f32>, shape<16, 9, 9>, 20, 5, 1, 2>(2);
  check_conv_forward<conv2d<4, 3, paper_4bit>, shape<3, 6, 6>, 4, 3, 1, 1>(3);
  // Output rows of 16 and 32 pixels: the direct kernel (direct_conv.hpp),
  // with slivers of 12, 8 and 1 output channels, odd channel counts, a
  // 5x5 kernel and padding 0.
  check_conv_forward<conv2d<20, 3, f32>, shape<5, 16, 16>, 20, 3, 1, 1>(2);
  check_conv_forward<conv2d<4, 3, f32>, shape<3, 4, 32>, 4, 3, 1, 1>(3);
  check_conv_forward<conv2d<13, 5, f32>, shape<2, 16, 16>, 13, 5, 1, 2>(2);
  check_conv_forward<conv2d<3, 3, f32, 1, 0>, shape<7, 18, 18>, 3, 3, 1, 0>(2);
  check_conv_forward<conv2d<12, 3, paper_4bit>, shape<16, 16, 16>, 12, 3, 1, 1>(2);
  check_conv_forward<conv2d<13, 3, f32>, shape<5, 8, 8>, 13, 3, 1, 1>(2);  // rows of 8: vectors in halves
  check_conv_forward<conv2d<4, 3, per_channel_4bit, 2>, shape<3, 6, 6>, 4, 3, 2, 1>(3);
}

TEST_CASE("depthwise_conv2d forward matches a direct depthwise convolution", "[layers][depthwise][forward]") {
  const auto check = []<class Spec, class Shape, std::size_t K, std::size_t Stride, std::size_t Pad>() {
    check_forward<Spec, Shape>(3, 41, [](const auto& x, const auto& w, const auto& b) {
      return naive_depthwise(x, w, b, K, Stride, Pad);
    });
  };
  check.operator()<depthwise_conv2d<3, f32>, shape<4, 6, 6>, 3, 1, 1>();
  check.operator()<depthwise_conv2d<3, f32, 2>, shape<5, 9, 9>, 3, 2, 1>();
  check.operator()<depthwise_conv2d<3, paper_4bit>, shape<8, 16, 16>, 3, 1, 1>();
  check.operator()<depthwise_conv2d<3, per_channel_4bit, 2>, shape<6, 8, 8>, 3, 2, 1>();
}

TEST_CASE("linear forward matches a naive matrix product", "[layers][linear][forward]") {
  check_linear_forward<linear<5, f32>, shape<12, 1, 1>, 5>(3);
  check_linear_forward<linear<13, f32>, shape<300, 1, 1>, 13>(7);
  check_linear_forward<linear<5, paper_4bit>, shape<12, 1, 1>, 5>(3);
  check_linear_forward<linear<7, int8_scheme>, shape<20, 1, 1>, 7>(4);
}

// ---------------------------------------------------------------------------
// Layers that quantize their input (schemes with activation_bits<N>).
//
// The forward pass must equal the float layer on the dequantized input
// step·codes with the quantized weights, and its product sums must be the
// exact integer sums. The gradients are the straight-through ones: dx is
// the float layer's dx where the input codes do not saturate and 0 where
// they do, dW is dL/dWq at the dequantized input, and both are compared
// with a float32 twin (weights Wq, input step·codes) whose own gradients are
// checked by finite differences here too.

namespace {

using per_channel_w4a8 = with_activations_t<per_channel_4bit, activation_bits<8>>;
using pact_a8 = with_activations_t<per_channel_4bit, pact_activation_bits<8>>;

// A Gaussian input batch, or its positive part (as after a ReLU).
template <class Shape>
activation layer_input(std::size_t batch, std::uint64_t seed, bool relu_input) {
  activation x = nibble_test::gaussian_input<Shape>(batch, seed);
  if (relu_input)
    for (auto& v : x) v = std::max(v, 0.0f);
  return x;
}

// The product of input codes and weight codes sums to exact integers, and
// the layer's output y is those sums through its own epilogue, bit for bit.
template <class Q>
void require_exact_integer_sums(const Q& q, const activation& codes, const activation& y, std::size_t batch,
                                float input_step) {
  constexpr std::size_t out = Q::output_shape::channels, pixels = Q::output_shape::height * Q::output_shape::width;
  const activation sums = naive_product<Q>(codes, q.weight_codes(), xt::zeros<float>({out}));
  for (float s : sums) REQUIRE(s == std::nearbyint(s));
  activation expected = sums;
  q.scale_integer_sums(expected.data(), batch, pixels, input_step);
  REQUIRE((y == expected));  // bit for bit: the same epilogue on the same sums
}

template <class QSpec, class FSpec, class Shape>
void check_input_quantized_layer(std::size_t batch, std::uint64_t seed, bool relu_input) {
  using Q = typename QSpec::template bind<Shape>;
  using F = typename FSpec::template bind<Shape>;
  using S = typename Q::scheme_type;
  static_assert(S::quantizes_activations && !F::scheme_type::quantized);
  constexpr std::size_t out = Q::output_shape::channels;

  Q q;
  init_layer(q, seed);
  activation x = layer_input<Shape>(batch, seed + 1, relu_input);
  activation y;
  ensure_batch_shape<typename Q::output_shape>(y, batch);

  // A training pass sets the range from this batch; then eval on an input
  // 1.5 times larger, so that some codes saturate.
  context train;
  q.forward(x, y, train);
  constexpr bool learned = S::activations::learned;
  constexpr bool pact = [] {  // PACT clips its input before rounding
    if constexpr (learned) return S::activations::learns_clip;
    else return false;
  }();
  const auto [lo, hi] = kernels::min_max(x.data(), x.size());
  if constexpr (learned) {
    // The first batch picks the zero point and starts the learned value:
    // LSQ's step at 2·mean|x|/sqrt(Qp), PACT's clip level at max|x|. Then
    // a smaller grid (top 2), so that some codes saturate.
    REQUIRE(q.inputs.started());
    const float zero = relu_input ? 0.0f : float(S::activations::max_code / 2 + 1);
    const float qp = float(S::activations::max_code) - zero;
    double mean = 0;
    for (float v : x) mean += std::fabs(v) / double(x.size());
    REQUIRE(q.inputs.grid().zero == zero);
    if constexpr (pact) {
      REQUIRE(q.inputs.learned.value(0) == std::max(-lo, hi));
      q.inputs.learned.value(0) = 2.0f;
    } else {
      REQUIRE(q.inputs.learned.value(0) == Approx(2.0 * mean / std::sqrt(double(qp))).epsilon(1e-5));
      q.inputs.learned.value(0) = 2.0f / qp;
    }
  } else {
    REQUIRE(q.inputs.range(0) == lo);
    REQUIRE(q.inputs.range(1) == hi);
  }
  const kernels::code_grid g = q.inputs.grid();
  if (relu_input) REQUIRE(g.zero == 0.0f);
  else REQUIRE((g.zero > 0.0f && g.zero < g.max_code));

  context eval;
  eval.phase = mode::eval;
  for (auto& v : x) v *= 1.5f;
  q.forward(x, y, eval);
  if constexpr (learned)
    REQUIRE(q.inputs.grid().step == g.step);
  else
    REQUIRE(q.inputs.range(0) == lo);  // frozen in eval
  const activation codes = q.inputs.codes();
  activation xq = codes * g.step;
  std::size_t saturated = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float c = codes.data()[i] + g.zero;
    REQUIRE(c == std::nearbyint(c));
    REQUIRE((c >= 0.0f && c <= g.max_code));
    saturated += (c == 0.0f || c == g.max_code) && std::fabs(x.data()[i] - xq.data()[i]) > g.step;
  }
  REQUIRE(saturated > 0);
  REQUIRE(saturated < x.size() / 2);

  // (a) The product sums are exact integers, and the output is the float
  // layer's output on the dequantized input.
  const std::vector<float> wq = q.quantized_weights();
  require_exact_integer_sums(q, codes, y, batch, g.step);
  require_close(y, naive_product<Q>(xq, wq, q.bias.value));

  // (b) Gradients against the float twin at the dequantized input.
  F twin;
  std::copy(wq.begin(), wq.end(), twin.weight.value.begin());
  twin.bias.value = q.bias.value;
  gradient_check_options o;
  require_gradients(twin, xq, eval, o);

  const activation r = gradient_probe<Q>::random_projection(batch, o.seed);
  activation dx_q = xt::zeros_like(x), dx_f = xt::zeros_like(x), y_f = y;
  q.backward(x, y, r, &dx_q, eval);
  twin.forward(xq, y_f, eval);
  twin.backward(xq, y_f, r, &dx_f, eval);
  std::size_t masked = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    // Masked where the code saturates; PACT clips first, so at or past the
    // clip levels themselves.
    const float c = std::nearbyint(x.data()[i] / g.step) + g.zero, v = x.data()[i] / g.step;
    const bool inside = pact ? v > -g.zero && v < g.max_code - g.zero
                                                     : c >= 0.0f && c <= g.max_code;
    masked += !inside;
    INFO("dx entry " << i);
    REQUIRE(dx_q.data()[i] == Approx(inside ? dx_f.data()[i] : 0.0f).margin(1e-5));
  }
  REQUIRE(masked > 0);
  for (std::size_t i = 0; i < wq.size(); ++i) {
    const float s = q.scales()[S::per_channel ? i / Q::fan_in : 0];
    const float est = S::estimator::derivative(q.weight.value(i), s, float(S::qmax));
    INFO("weight " << i);
    REQUIRE(q.weight.grad(i) == Approx(est * twin.weight.grad(i)).epsilon(1e-4).margin(1e-5));
  }
  for (std::size_t o2 = 0; o2 < out; ++o2) REQUIRE(q.bias.grad(o2) == Approx(twin.bias.grad(o2)).epsilon(1e-5));
  if constexpr (learned) {
    // The learned value's gradient, written out here on dL/d(dequantized x)
    // from the float twin: Esser et al.'s for LSQ's step; for PACT's clip
    // level α, dx̂/dα = 1 at or above α, −Qn/Qp at or below the bottom.
    const double qn = g.zero, qp = g.max_code - g.zero, features = double(x.size() / batch);
    double expected = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double v = double(x.data()[i]) / double(g.step);
      double d;
      if constexpr (pact) d = v >= qp ? 1.0 : v <= -qn ? -qn / qp : 0.0;
      else d = v <= -qn ? -qn : v >= qp ? qp : std::nearbyint(v) - v;
      expected += double(dx_f.data()[i]) * d;
    }
    if constexpr (!pact) expected /= std::sqrt(features * qp);
    REQUIRE(expected != 0.0);
    REQUIRE(q.inputs.learned.grad(0) == Approx(expected).epsilon(1e-4).margin(1e-5));
    // Without a dx to fill (the first layer), the layer still finds it.
    q.inputs.learned.grad(0) = 0.0f;
    q.backward(x, y, r, nullptr, eval);
    REQUIRE(q.inputs.learned.grad(0) == Approx(expected).epsilon(1e-4).margin(1e-5));
  }
}

}  // namespace

TEST_CASE("conv2d that quantizes its input: exact integer sums and straight-through gradients",
          "[layers][gradients][quantized][activations]") {
  SECTION("w4a8 after a ReLU (zero point 0)") {
    check_input_quantized_layer<conv2d<4, 3, w4a8>, conv2d<4, 3, f32>, shape<3, 6, 6>>(3, 201, true);
  }
  SECTION("w4a8 on a signed input (zero point inside the range)") {
    check_input_quantized_layer<conv2d<4, 3, w4a8>, conv2d<4, 3, f32>, shape<3, 6, 6>>(3, 202, false);
  }
  SECTION("w4a4") { check_input_quantized_layer<conv2d<4, 3, w4a4>, conv2d<4, 3, f32>, shape<3, 6, 6>>(3, 203, true); }
  SECTION("w8a8") { check_input_quantized_layer<conv2d<4, 3, w8a8>, conv2d<4, 3, f32>, shape<3, 6, 6>>(3, 204, true); }
  SECTION("per-channel w4a8") {
    check_input_quantized_layer<conv2d<4, 3, per_channel_w4a8>, conv2d<4, 3, f32>, shape<3, 6, 6>>(3, 205, false);
  }
  SECTION("learned input step (LSQ) a8 after a ReLU") {
    check_input_quantized_layer<conv2d<4, 3, lsq_a8>, conv2d<4, 3, f32>, shape<3, 6, 6>>(3, 206, true);
  }
  SECTION("LSQ w4a4 on a signed input") {
    check_input_quantized_layer<conv2d<4, 3, lsq_w4a4>, conv2d<4, 3, f32>, shape<3, 6, 6>>(3, 207, false);
  }
  SECTION("PACT a4 after a ReLU") {
    check_input_quantized_layer<conv2d<4, 3, pact_w4a4>, conv2d<4, 3, f32>, shape<3, 6, 6>>(3, 208, true);
  }
  SECTION("PACT a8 on a signed input") {
    check_input_quantized_layer<conv2d<4, 3, pact_a8>, conv2d<4, 3, f32>, shape<3, 6, 6>>(3, 209, false);
  }
}

TEST_CASE("depthwise_conv2d that quantizes its input: exact integer sums and straight-through gradients",
          "[layers][gradients][quantized][activations][depthwise]") {
  SECTION("w4a8 after a ReLU") {
    check_input_quantized_layer<depthwise_conv2d<3, w4a8>, depthwise_conv2d<3, f32>, shape<4, 6, 6>>(3, 221, true);
  }
  SECTION("per-channel w4a8 on a signed input") {
    check_input_quantized_layer<depthwise_conv2d<3, per_channel_w4a8>, depthwise_conv2d<3, f32>, shape<4, 6, 6>>(
        3, 222, false);
  }
  SECTION("w8a8") {
    check_input_quantized_layer<depthwise_conv2d<3, w8a8>, depthwise_conv2d<3, f32>, shape<4, 6, 6>>(3, 223, true);
  }
}

// A residual block whose first layer quantizes its input adds on that
// input's step (quant/quantized_sum.hpp): y = s·n for an integer n, the
// terms' codes computed here from their definitions, and a gradient that is
// straight through: the body gets dy, the shortcut dy where its codes do
// not saturate. The body's own gradients are checked above.
TEST_CASE("a residual block of layers that quantize their input adds on one step, straight through",
          "[layers][gradients][quantized][activations][residual]") {
  using block = residual<conv2d<4, 3, w4a8>, batch_norm, relu, conv2d<4, 3, w4a8>, batch_norm>::bind<shape<4, 6, 6>>;
  STATIC_REQUIRE(block::quantized);
  STATIC_REQUIRE(!residual<conv2d<4, 3, paper_4bit>>::bind<shape<4, 6, 6>>::quantized);
  block b;
  init_layer(b, 231);
  activation x = layer_input<shape<4, 6, 6>>(3, 232, true);
  activation y;
  ensure_batch_shape<shape<4, 6, 6>>(y, 3);
  context train, eval{mode::eval};
  b.forward(x, y, train);  // sets the input's range from this batch
  for (auto& v : x) v *= 1.5f;  // then some codes saturate
  b.forward(x, y, eval);
  const kernels::code_grid g = b.body().layer<0>().grid();
  const activation f = b.body().forward(x, eval);
  std::size_t saturated = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float cx = std::clamp(std::nearbyint(x.data()[i] / g.step), 0.0f, g.max_code);
    const float cf = std::clamp(std::nearbyint(f.data()[i] / g.step), -float(addend_limit), float(addend_limit));
    INFO("entry " << i);
    REQUIRE(y.data()[i] == g.step * (cx + cf));
    const bool inside = std::nearbyint(x.data()[i] / g.step) <= g.max_code;
    saturated += !inside;
    if (inside && std::fabs(cf) < float(addend_limit))
      REQUIRE(std::fabs(y.data()[i] - (x.data()[i] + f.data()[i])) <= 1.0001f * g.step);
  }
  REQUIRE(saturated > 0);

  // The body gets dy where its output's code does not saturate.
  const activation dy = gradient_probe<block>::random_projection(3, 233);
  activation body_dy = dy;
  for (std::size_t i = 0; i < dy.size(); ++i)
    if (std::fabs(std::nearbyint(f.data()[i] / g.step)) > float(addend_limit)) body_dy.data()[i] = 0.0f;
  activation dx = xt::zeros_like(x), dx_body = xt::zeros_like(x);
  b.backward(x, y, dy, &dx, eval);
  b.body().forward(x, eval);
  b.body().backward(body_dy, &dx_body, eval);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const bool inside = std::nearbyint(x.data()[i] / g.step) <= g.max_code;
    INFO("dx entry " << i);
    REQUIRE(dx.data()[i] == Approx(dx_body.data()[i] + (inside ? dy.data()[i] : 0.0f)).margin(1e-6));
  }
}

TEST_CASE("a projection block of layers that quantize their input adds both chains on one step",
          "[layers][quantized][activations][residual]") {
  using block = residual<projection<conv2d<8, 1, w4a8, 2, 0>, batch_norm>, conv2d<8, 3, w4a8, 2>, batch_norm, relu,
                         conv2d<8, 3, w4a8>, batch_norm>::bind<shape<4, 6, 6>>;
  STATIC_REQUIRE(block::quantized);
  block b;
  init_layer(b, 241);
  const activation x = layer_input<shape<4, 6, 6>>(3, 242, true);
  activation y;
  ensure_batch_shape<shape<8, 3, 3>>(y, 3);
  context train, eval{mode::eval};
  b.forward(x, y, train);
  b.forward(x, y, eval);
  const float s = b.body().layer<0>().grid().step;
  const activation f = b.body().forward(x, eval), sx = b.shortcut().forward(x, eval);
  const auto code = [&](float v) { return std::clamp(std::nearbyint(v / s), -255.0f, 255.0f); };
  for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(y.data()[i] == s * (code(sx.data()[i]) + code(f.data()[i])));
}

TEST_CASE("linear that quantizes its input: exact integer sums and straight-through gradients",
          "[layers][gradients][quantized][activations]") {
  SECTION("w4a8") { check_input_quantized_layer<linear<5, w4a8>, linear<5, f32>, shape<12, 1, 1>>(4, 211, true); }
  SECTION("w4a4, signed input") {
    check_input_quantized_layer<linear<5, w4a4>, linear<5, f32>, shape<12, 1, 1>>(4, 212, false);
  }
  SECTION("per-channel w4a8") {
    check_input_quantized_layer<linear<5, per_channel_w4a8>, linear<5, f32>, shape<12, 1, 1>>(4, 213, true);
  }
  SECTION("LSQ w4a4 after a ReLU") {
    check_input_quantized_layer<linear<5, lsq_w4a4>, linear<5, f32>, shape<12, 1, 1>>(4, 214, true);
  }
  SECTION("PACT a4 on a signed input") {
    check_input_quantized_layer<linear<5, pact_w4a4>, linear<5, f32>, shape<12, 1, 1>>(4, 215, false);
  }
}

// Layers with power-of-two inputs (power_of_two_activations). In training
// the layer is its float twin (weights Wq) on the soft levels step·φ(x/step),
// and dx is the twin's dx times φ', the soft staircase's slope (checked
// against finite differences in test_quant_activations); the twin's own
// gradients are checked by finite differences here. In eval the levels are
// hard and the product sums exact integers.

namespace {

template <class QSpec, class FSpec, class Shape>
void check_power_of_two_input_layer(std::size_t batch, std::uint64_t seed, bool relu_input) {
  using Q = typename QSpec::template bind<Shape>;
  using F = typename FSpec::template bind<Shape>;
  using S = typename Q::scheme_type;
  using A = typename S::activations;
  static_assert(!A::uniform && S::estimator::is_identity, "the weight gradient below is the plain STE's");

  Q q;
  init_layer(q, seed);
  const activation x = layer_input<Shape>(batch, seed + 1, relu_input);
  activation y;
  ensure_batch_shape<typename Q::output_shape>(y, batch);

  context train{.progress = 0.3f}, eval{.phase = mode::eval};
  q.forward(x, y, train);
  REQUIRE(q.inputs.is_signed() == !relu_input);
  const kernels::code_grid g = q.inputs.grid();
  const activation soft = q.inputs.codes();
  const activation xq = soft * g.step;
  const std::vector<float> wq = q.quantized_weights();

  F twin;
  std::copy(wq.begin(), wq.end(), twin.weight.value.begin());
  twin.bias.value = q.bias.value;
  gradient_check_options o;
  require_gradients(twin, xq, eval, o);
  activation y_f = y;
  twin.forward(xq, y_f, eval);
  require_close(y, y_f);

  // The slopes of the soft levels, from the quantizer's own function.
  std::vector<float> levels(x.size()), slopes(x.size());
  const float kappa = 1.0f / A::estimator::temperature(0.3f);
  if (relu_input)
    input_quantizer<A>::template levels<typename A::unsigned_levels, false>(x.data(), levels.data(), slopes.data(),
                                                                            x.size(), g.step, kappa);
  else
    input_quantizer<A>::template levels<typename A::signed_levels, true>(x.data(), levels.data(), slopes.data(),
                                                                         x.size(), g.step, kappa);
  REQUIRE(std::equal(levels.begin(), levels.end(), soft.begin()));

  const activation r = gradient_probe<Q>::random_projection(batch, o.seed);
  activation dx_q = xt::zeros_like(x), dx_f = xt::zeros_like(x);
  q.backward(x, y, r, &dx_q, train);
  twin.backward(xq, y_f, r, &dx_f, eval);
  std::size_t shaped = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    INFO("dx entry " << i);
    REQUIRE(dx_q.data()[i] == Approx(dx_f.data()[i] * slopes[i]).epsilon(1e-5).margin(1e-6));
    shaped += std::fabs(slopes[i] - 1.0f) > 0.05f;
  }
  REQUIRE(shaped > x.size() / 4);  // the slopes are not a straight-through 1
  for (std::size_t i = 0; i < wq.size(); ++i) {
    INFO("weight " << i);
    REQUIRE(q.weight.grad(i) == Approx(twin.weight.grad(i)).epsilon(1e-4).margin(1e-5));
  }

  // Eval: hard levels, exact integer sums, the shared epilogue.
  q.forward(x, y, eval);
  const activation codes = q.inputs.codes();
  for (float c : codes) REQUIRE((c == 0.0f || std::fabs(c) == std::exp2(std::round(std::log2(std::fabs(c))))));
  require_exact_integer_sums(q, codes, y, batch, g.step);
}

using pot_a4 = with_activations_t<paper_4bit, power_of_two_activations<4>>;
using pot_a3 = with_activations_t<paper_4bit, power_of_two_activations<3, soft_staircase<0.3f, 0.3f>>>;

}  // namespace

TEST_CASE("layers with power-of-two inputs: soft levels and their slopes in training, exact sums in eval",
          "[layers][gradients][quantized][activations][power_of_two]") {
  SECTION("conv2d after a ReLU") {
    check_power_of_two_input_layer<conv2d<4, 3, pot_a4>, conv2d<4, 3, f32>, shape<3, 6, 6>>(3, 221, true);
  }
  SECTION("conv2d on a signed input") {
    check_power_of_two_input_layer<conv2d<4, 3, pot_a3>, conv2d<4, 3, f32>, shape<3, 6, 6>>(3, 222, false);
  }
  SECTION("linear after a ReLU") {
    check_power_of_two_input_layer<linear<5, pot_a3>, linear<5, f32>, shape<12, 1, 1>>(4, 223, true);
  }
  SECTION("linear on a signed input") {
    check_power_of_two_input_layer<linear<5, pot_a4>, linear<5, f32>, shape<12, 1, 1>>(4, 224, false);
  }
}

// ---------------------------------------------------------------------------
// The layers of WhitenedVGG (airbench's network)

TEST_CASE("gelu gradients, and its values against x·Φ(x)", "[layers][gradients][gelu]") {
  check_layer_gaussian<gelu, shape<4, 6, 6>>();
  // 4·6·6·3 = 432 values: the vector loop and the scalar tail both run.
  context ctx;
  const activation x = nibble_test::gaussian_input<shape<4, 6, 6>>(3, 5, 2.0f);
  activation y(x.shape());
  gelu::bind<shape<4, 6, 6>> layer;
  layer.forward(x, y, ctx);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = x.data()[i];
    REQUIRE(y.data()[i] == Approx(0.5 * v * std::erfc(-v / std::sqrt(2.0))).margin(1e-6));
  }
}

TEST_CASE("shift_batch_norm gradients: only the shift is a parameter, the scale stays 1", "[layers][gradients][batch_norm]") {
  using L = shift_batch_norm::bind<shape<4, 6, 6>>;
  static_assert(L::parameter_count == 4);
  check_layer_gaussian<shift_batch_norm, shape<4, 6, 6>>();
  L layer;
  std::mt19937_64 rng(1);
  layer.init(rng);
  std::size_t visited = 0;
  layer.visit_parameters([&](parameter& p) {
    CHECK(p.size() == 4);
    ++visited;
  });
  CHECK(visited == 1);
  CHECK(L::describe() == "shift_batch_norm");
}

TEST_CASE("max_pool2d floors odd sizes: gradients, none to the rows and columns left out", "[layers][gradients][max_pool2d]") {
  context ctx;
  // Widths that take each vector path of the 2x2 kernel (16, 8 and 4
  // windows a row), one that takes the scalar loop, and a 3x3 window.
  check_layer<max_pool2d<2>, shape<2, 5, 33>>(2, nibble_test::distinct_input<shape<2, 5, 33>>(2, 61, 0.01f), ctx);
  check_layer<max_pool2d<2>, shape<2, 5, 17>>(2, nibble_test::distinct_input<shape<2, 5, 17>>(2, 62, 0.01f), ctx);
  check_layer<max_pool2d<2>, shape<2, 9, 9>>(2, nibble_test::distinct_input<shape<2, 9, 9>>(2, 63, 0.01f), ctx);
  check_layer<max_pool2d<2>, shape<2, 7, 7>>(2, nibble_test::distinct_input<shape<2, 7, 7>>(2, 64, 0.01f), ctx);
  check_layer<max_pool2d<3>, shape<2, 4, 4>>(2, nibble_test::distinct_input<shape<2, 4, 4>>(2, 65, 0.01f), ctx);
  // The output is the maximum of each whole window only.
  using L = max_pool2d<2>::bind<shape<1, 3, 3>>;
  static_assert(std::is_same_v<L::output_shape, shape<1, 1, 1>>);
  activation x = xt::zeros<float>({1, 1, 3, 3}), y = xt::zeros<float>({1, 1, 1, 1});
  x(0, 0, 2, 2) = 5.0f;  // outside the window
  x(0, 0, 1, 0) = 2.0f;
  L pool;
  pool.forward(x, y, ctx);
  CHECK(y(0, 0, 0, 0) == 2.0f);
}

TEST_CASE("fixed_scale gradients and values", "[layers][gradients][fixed_scale]") {
  check_layer_gaussian<fixed_scale<1, 9>, shape<10, 1, 1>>();
  context ctx;
  const activation x = nibble_test::gaussian_input<shape<10, 1, 1>>(2, 3);
  activation y(x.shape());
  fixed_scale<1, 9>::bind<shape<10, 1, 1>> layer;
  layer.forward(x, y, ctx);
  for (std::size_t i = 0; i < x.size(); ++i) REQUIRE(y.data()[i] == Approx(x.data()[i] / 9.0f));
}

TEST_CASE("patch_whitening gradients: to its input (through the reflected border) and its bias",
          "[layers][gradients][patch_whitening]") {
  check_layer_gaussian<patch_whitening<2, f32>, shape<3, 6, 6>>();
  check_layer_gaussian<patch_whitening<3, f32>, shape<2, 5, 5>>();
  using L = patch_whitening<2, f32>::bind<shape<3, 6, 6>>;
  static_assert(std::is_same_v<L::output_shape, shape<24, 6, 6>>);
  static_assert(L::parameter_count == 24);
}
