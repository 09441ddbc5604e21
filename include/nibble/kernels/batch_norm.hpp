#pragma once
// Batch-norm passes over an (N, C, P) tensor, one channel per task: each
// channel's statistics need all images, so channels are the parallel unit.
#include <cmath>
#include <cstddef>
#include <utility>

#include "nibble/kernels/channel_affine.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

struct bn_geometry {
  std::size_t batch, channels, pixels;
  std::size_t count() const { return batch * pixels; }
};

// Batch mean and 1/sqrt(biased variance + eps) per channel (two passes, so
// large means do not cancel the variance).
inline void bn_batch_statistics(const bn_geometry& g, const float* x, float* mean, float* inv_std, float eps) {
  parallel_for(g.channels, [&](std::size_t c, int) {
    double s = 0.0;
    for (std::size_t n = 0; n < g.batch; ++n) s += sum(x + (n * g.channels + c) * g.pixels, g.pixels);
    const float m = float(s / double(g.count()));
    double v = 0.0;
    for (std::size_t n = 0; n < g.batch; ++n)
      v += sum_squared_deviation(x + (n * g.channels + c) * g.pixels, g.pixels, m);
    mean[c] = m;
    inv_std[c] = 1.0f / std::sqrt(float(v / double(g.count())) + eps);
  });
}

// Running statistics as PyTorch keeps them: the variance is unbiased.
inline void bn_update_running(const bn_geometry& g, const float* mean, const float* inv_std, float eps,
                              float momentum, float* running_mean, float* running_var) {
  const float m = float(g.count());
  const float unbias = m > 1.0f ? m / (m - 1.0f) : 1.0f;
  for (std::size_t c = 0; c < g.channels; ++c) {
    const float var = 1.0f / (inv_std[c] * inv_std[c]) - eps;
    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean[c];
    running_var[c] = (1.0f - momentum) * running_var[c] + momentum * var * unbias;
  }
}

// y = γ·(x − μ)·inv_std + β, then max(y, 0) when Relu (one pass instead of two).
template <bool Relu = false>
void bn_normalise(const bn_geometry& g, const float* x, const float* mean, const float* inv_std, const float* gamma,
                  const float* beta, float* y) {
  channel_affine<Relu>(
      {g.batch, g.channels, g.pixels},
      [&](std::size_t c) {
        const float a = gamma[c] * inv_std[c];
        return std::pair{a, beta[c] - a * mean[c]};
      },
      x, y);
}

// dγ = Σ e·x̂, dβ = Σ e, where e = dy (or, when Relu, dy masked by y > 0 —
// the gradient through the ReLU that followed); with batch statistics
// dx = γ·inv_std · (e − dβ/M − x̂·dγ/M), with fixed statistics dx = γ·inv_std·e.
template <bool Relu = false>
void bn_backward(const bn_geometry& g, const float* x, const float* y, const float* dy, const float* mean,
                 const float* inv_std, const float* gamma, float* dgamma, float* dbeta, float* dx, bool batch_stats) {
  parallel_for(g.channels, [&](std::size_t c, int) {
    const float m = mean[c], is = inv_std[c];
    const fvec mv = broadcast(m), zero = broadcast(0.0f);
    const std::size_t vn = g.pixels / fvec_width * fvec_width;
    auto effective = [&](std::size_t off, std::size_t i) {
      const fvec d = load(dy + off + i);
      if constexpr (Relu)
        return select_where(load(y + off + i) > zero, d, zero);
      else
        return d;
    };
    auto effective1 = [&](std::size_t k) { return (!Relu || y[k] > 0.0f) ? dy[k] : 0.0f; };
    double sdy = 0.0, sdyx = 0.0;
    for (std::size_t n = 0; n < g.batch; ++n) {
      const std::size_t off = (n * g.channels + c) * g.pixels;
      fvec a = zero, b = zero;
      for (std::size_t i = 0; i < vn; i += fvec_width) {
        const fvec e = effective(off, i);
        a = a + e;
        b = fma(e, load(x + off + i) - mv, b);
      }
      float as = reduce_add(a), bs = reduce_add(b);
      for (std::size_t i = vn; i < g.pixels; ++i) {
        as += effective1(off + i);
        bs += effective1(off + i) * (x[off + i] - m);
      }
      sdy += as;
      sdyx += bs;
    }
    sdyx *= is;
    dgamma[c] = float(sdyx);
    dbeta[c] = float(sdy);
    if (!dx) return;
    const float scale = gamma[c] * is;
    const float M = float(g.count());
    const float mean_dy = batch_stats ? float(sdy) / M : 0.0f;
    const float k = batch_stats ? float(sdyx) / M * is : 0.0f;  // x̂·mean(e·x̂) = (x − μ)·k
    const fvec sv = broadcast(scale), mdy = broadcast(mean_dy), kv = broadcast(k);
    for (std::size_t n = 0; n < g.batch; ++n) {
      const std::size_t off = (n * g.channels + c) * g.pixels;
      for (std::size_t i = 0; i < vn; i += fvec_width)
        store(dx + off + i, sv * (effective(off, i) - mdy - (load(x + off + i) - mv) * kv));
      for (std::size_t i = vn; i < g.pixels; ++i)
        dx[off + i] = scale * (effective1(off + i) - mean_dy - (x[off + i] - m) * k);
    }
  });
}

}  // namespace nibble::kernels
