#pragma once
// Batch-norm passes over an (N, C, P) tensor, one channel per task: each
// channel's statistics need all images, so channels are the parallel unit.
#include <cmath>
#include <cstddef>

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

inline void bn_normalise(const bn_geometry& g, const float* x, const float* mean, const float* inv_std,
                         const float* gamma, const float* beta, float* y) {
  parallel_for(g.channels, [&](std::size_t c, int) {
    const float a = gamma[c] * inv_std[c], b = beta[c] - a * mean[c];
    for (std::size_t n = 0; n < g.batch; ++n) {
      const std::size_t off = (n * g.channels + c) * g.pixels;
      for (std::size_t i = 0; i < g.pixels; ++i) y[off + i] = a * x[off + i] + b;
    }
  });
}

// dγ = Σ dy·x̂, dβ = Σ dy; with batch statistics
// dx = γ·inv_std/M · (M·dy − dβ − x̂·dγ), with fixed statistics dx = γ·inv_std·dy.
inline void bn_backward(const bn_geometry& g, const float* x, const float* dy, const float* mean, const float* inv_std,
                        const float* gamma, float* dgamma, float* dbeta, float* dx, bool batch_stats) {
  parallel_for(g.channels, [&](std::size_t c, int) {
    const float m = mean[c], is = inv_std[c];
    double sdy = 0.0, sdyx = 0.0;
    for (std::size_t n = 0; n < g.batch; ++n) {
      const std::size_t off = (n * g.channels + c) * g.pixels;
      sdy += sum(dy + off, g.pixels);
      sdyx += sum_product_centered(dy + off, x + off, g.pixels, m);
    }
    sdyx *= is;
    dgamma[c] = float(sdyx);
    dbeta[c] = float(sdy);
    if (!dx) return;
    const float scale = gamma[c] * is;
    const float M = float(g.count());
    const float mean_dy = batch_stats ? float(sdy) / M : 0.0f;
    const float mean_dyx = batch_stats ? float(sdyx) / M : 0.0f;
    for (std::size_t n = 0; n < g.batch; ++n) {
      const std::size_t off = (n * g.channels + c) * g.pixels;
      for (std::size_t i = 0; i < g.pixels; ++i) {
        const float xhat = (x[off + i] - m) * is;
        dx[off + i] = scale * (dy[off + i] - mean_dy - xhat * mean_dyx);
      }
    }
  });
}

}  // namespace nibble::kernels
