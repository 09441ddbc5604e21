#pragma once
// Max pooling (window = stride) and global average pooling over NCHW planes.
#include <cstddef>
#include <cstdint>

#include "nibble/kernels/parallel.hpp"

namespace nibble::kernels {

// planes = batch·channels images of h×w, pooled to (h/k)×(w/k). Records
// the position of each window's first maximum (row-major in the window) so
// backward is a single scatter.
// The window size is a template argument so the window loops unroll.
template <std::size_t k>
void max_pool_forward(std::size_t planes, std::size_t h, std::size_t w, const float* x, float* y,
                      std::uint8_t* argmax) {
  const std::size_t oh = h / k, ow = w / k;
  parallel_for(planes, [&](std::size_t p, int) {
    const float* in = x + p * h * w;
    float* out = y + p * oh * ow;
    std::uint8_t* arg = argmax + p * oh * ow;
    for (std::size_t oy = 0; oy < oh; ++oy) {
      if constexpr (k == 2) {
        // Branch-free, so the compiler vectorises it: first maximum in
        // row-major order wins, as in the general loop below.
        const float* r0 = in + 2 * oy * w;
        const float* r1 = r0 + w;
        for (std::size_t ox = 0; ox < ow; ++ox) {
          const float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
          const bool top_b = b > a;
          const float top = top_b ? b : a;
          const bool bottom_d = d > c;
          const float bottom = bottom_d ? d : c;
          const bool lower = bottom > top;
          out[oy * ow + ox] = lower ? bottom : top;
          arg[oy * ow + ox] = std::uint8_t(lower ? 2 + bottom_d : top_b);
        }
        continue;
      }
      for (std::size_t ox = 0; ox < ow; ++ox) {
        const float* window = in + oy * k * w + ox * k;
        float m = window[0];
        std::uint8_t best = 0;
        for (std::size_t dy = 0; dy < k; ++dy)
          for (std::size_t dx = 0; dx < k; ++dx)
            if (window[dy * w + dx] > m) {
              m = window[dy * w + dx];
              best = std::uint8_t(dy * k + dx);
            }
        out[oy * ow + ox] = m;
        arg[oy * ow + ox] = best;
      }
    }
  });
}

// The gradient of each window goes to its recorded maximum; the rest is 0.
template <std::size_t k>
void max_pool_backward(std::size_t planes, std::size_t h, std::size_t w, const std::uint8_t* argmax, const float* dy,
                       float* dx) {
  const std::size_t oh = h / k, ow = w / k;
  parallel_for(planes, [&](std::size_t p, int) {
    float* din = dx + p * h * w;
    const float* g = dy + p * oh * ow;
    const std::uint8_t* arg = argmax + p * oh * ow;
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) {
        float* window = din + oy * k * w + ox * k;
        const std::size_t best = arg[oy * ow + ox];
        for (std::size_t dy_ = 0; dy_ < k; ++dy_)
          for (std::size_t dx_ = 0; dx_ < k; ++dx_)
            window[dy_ * w + dx_] = dy_ * k + dx_ == best ? g[oy * ow + ox] : 0.0f;
      }
  });
}

inline void global_avg_pool_forward(std::size_t planes, std::size_t pixels, const float* x, float* y) {
  parallel_for(planes, [&](std::size_t p, int) {
    float s = 0.0f;
    for (std::size_t i = 0; i < pixels; ++i) s += x[p * pixels + i];
    y[p] = s / float(pixels);
  });
}

inline void global_avg_pool_backward(std::size_t planes, std::size_t pixels, const float* dy, float* dx) {
  parallel_for(planes, [&](std::size_t p, int) {
    const float g = dy[p] / float(pixels);
    for (std::size_t i = 0; i < pixels; ++i) dx[p * pixels + i] = g;
  });
}

}  // namespace nibble::kernels
