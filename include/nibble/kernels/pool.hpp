#pragma once
// Max pooling (window = stride) and global average pooling over NCHW planes.
#include <cstddef>

#include "nibble/kernels/parallel.hpp"

namespace nibble::kernels {

// planes = batch·channels images of h×w, pooled to (h/k)×(w/k).
inline void max_pool_forward(std::size_t planes, std::size_t h, std::size_t w, std::size_t k, const float* x,
                             float* y) {
  const std::size_t oh = h / k, ow = w / k;
  parallel_for(planes, [&](std::size_t p, int) {
    const float* in = x + p * h * w;
    float* out = y + p * oh * ow;
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) {
        float m = in[oy * k * w + ox * k];
        for (std::size_t dy = 0; dy < k; ++dy)
          for (std::size_t dx = 0; dx < k; ++dx) {
            const float v = in[(oy * k + dy) * w + ox * k + dx];
            m = v > m ? v : m;
          }
        out[oy * ow + ox] = m;
      }
  });
}

// The gradient goes to the first element of each window equal to its max.
inline void max_pool_backward(std::size_t planes, std::size_t h, std::size_t w, std::size_t k, const float* x,
                              const float* y, const float* dy, float* dx) {
  const std::size_t oh = h / k, ow = w / k;
  parallel_for(planes, [&](std::size_t p, int) {
    const float* in = x + p * h * w;
    float* din = dx + p * h * w;
    for (std::size_t i = 0; i < h * w; ++i) din[i] = 0.0f;
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) {
        const float m = y[p * oh * ow + oy * ow + ox];
        bool done = false;
        for (std::size_t dy_ = 0; dy_ < k && !done; ++dy_)
          for (std::size_t dx_ = 0; dx_ < k && !done; ++dx_) {
            const std::size_t i = (oy * k + dy_) * w + ox * k + dx_;
            if (in[i] == m) {
              din[i] = dy[p * oh * ow + oy * ow + ox];
              done = true;
            }
          }
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
