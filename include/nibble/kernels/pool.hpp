#pragma once
// Max pooling (window = stride) and global average pooling over NCHW planes.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "nibble/config.hpp"
#if NIBBLE_ISA_AVX512BW_DQ
#include <immintrin.h>
#endif

#include "nibble/kernels/parallel.hpp"
#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

#if NIBBLE_ISA_AVX512BW_DQ
// 16 windows of 2×2 at once. Window j's top row is the pair 2j, 2j+1 of
// the 32 floats t0:t1, its bottom row the same pair of b0:b1, so the same
// code serves 16 windows of one row pair, 8 of each of two and 4 of each of
// four. Writes the maxima and argmax codes exactly as the scalar loop would.
inline void max_pool2_forward_16(__m512 t0, __m512 t1, __m512 b0, __m512 b1, float* out, std::uint8_t* arg) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  const __m512 a = _mm512_permutex2var_ps(t0, even, t1), b = _mm512_permutex2var_ps(t0, odd, t1);
  const __m512 c = _mm512_permutex2var_ps(b0, even, b1), d = _mm512_permutex2var_ps(b0, odd, b1);
  const __mmask16 top_b = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ), bottom_d = _mm512_cmp_ps_mask(d, c, _CMP_GT_OQ);
  const __m512 top = _mm512_mask_blend_ps(top_b, a, b), bottom = _mm512_mask_blend_ps(bottom_d, c, d);
  const __mmask16 lower = _mm512_cmp_ps_mask(bottom, top, _CMP_GT_OQ);
  _mm512_storeu_ps(out, _mm512_mask_blend_ps(lower, top, bottom));
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i code = _mm512_mask_blend_epi32(lower, _mm512_maskz_mov_epi32(top_b, one),
                                               _mm512_add_epi32(_mm512_set1_epi32(2), _mm512_maskz_mov_epi32(bottom_d, one)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(arg), _mm512_cvtepi32_epi8(code));
}

// 8 floats at p and 8 at p + second, as one vector.
inline __m512 load_two_halves(const float* p, std::size_t second) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(p)), _mm256_loadu_ps(p + second), 1);
}
inline void store_two_halves(float* p, std::size_t second, __m512 v) {
  _mm256_storeu_ps(p, _mm512_castps512_ps256(v));
  _mm256_storeu_ps(p + second, _mm512_extractf32x8_ps(v, 1));
}

// The adjoint: each window's gradient to its recorded position, zeros
// elsewhere, returned as the four vectors t0, t1, b0, b1 the forward read.
struct pool_window_rows {
  __m512 t0, t1, b0, b1;
};
inline pool_window_rows max_pool2_backward_16(const float* g, const std::uint8_t* arg) {
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const __m512 gv = _mm512_loadu_ps(g);
  const __m512i code = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(arg)));
  auto at = [&](int which) { return _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(code, _mm512_set1_epi32(which)), gv); };
  const __m512 a = at(0), b = at(1), c = at(2), d = at(3);
  return {_mm512_permutex2var_ps(a, lo, b), _mm512_permutex2var_ps(a, hi, b), _mm512_permutex2var_ps(c, lo, d),
          _mm512_permutex2var_ps(c, hi, d)};
}
#endif

// planes = batch·channels images of h×w, pooled to ⌊h/k⌋×⌊w/k⌋ (rows and
// columns past the last whole window are not read). Records
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
#if NIBBLE_ISA_AVX512BW_DQ
    if constexpr (k == 2) {
      if (ow % 16 == 0) {  // 16 windows of one row pair at a time
        for (std::size_t oy = 0; oy < oh; ++oy)
          for (std::size_t ox = 0; ox < ow; ox += 16) {
            const float* t = in + 2 * oy * w + 2 * ox;
            max_pool2_forward_16(_mm512_loadu_ps(t), _mm512_loadu_ps(t + 16), _mm512_loadu_ps(t + w),
                                 _mm512_loadu_ps(t + w + 16), out + oy * ow + ox, arg + oy * ow + ox);
          }
        return;
      }
      if (ow == 8 && oh % 2 == 0) {  // 8 windows of each of two row pairs
        for (std::size_t oy = 0; oy < oh; oy += 2) {
          const float* t = in + 2 * oy * w;
          max_pool2_forward_16(_mm512_loadu_ps(t), _mm512_loadu_ps(t + 2 * w), _mm512_loadu_ps(t + w),
                               _mm512_loadu_ps(t + 3 * w), out + oy * ow, arg + oy * ow);
        }
        return;
      }
      if (ow == 4 && oh % 4 == 0) {  // 4 windows of each of four row pairs
        for (std::size_t oy = 0; oy < oh; oy += 4) {
          const float* t = in + 2 * oy * w;
          max_pool2_forward_16(load_two_halves(t, 2 * w), load_two_halves(t + 4 * w, 2 * w),
                               load_two_halves(t + w, 2 * w), load_two_halves(t + 5 * w, 2 * w), out + oy * ow,
                               arg + oy * ow);
        }
        return;
      }
    }
#endif
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

// The gradient of each window goes to its recorded maximum; the rest is 0,
// the rows and columns past the last whole window included.
template <std::size_t k>
void max_pool_backward(std::size_t planes, std::size_t h, std::size_t w, const std::uint8_t* argmax, const float* dy,
                       float* dx) {
  const std::size_t oh = h / k, ow = w / k;
  parallel_for(planes, [&](std::size_t p, int) {
    float* din = dx + p * h * w;
    const float* g = dy + p * oh * ow;
    const std::uint8_t* arg = argmax + p * oh * ow;
    if (w != ow * k)
      for (std::size_t y = 0; y < oh * k; ++y) std::fill(din + y * w + ow * k, din + (y + 1) * w, 0.0f);
    std::fill(din + oh * k * w, din + h * w, 0.0f);
#if NIBBLE_ISA_AVX512BW_DQ
    if constexpr (k == 2) {
      if (ow % 16 == 0) {
        for (std::size_t oy = 0; oy < oh; ++oy)
          for (std::size_t ox = 0; ox < ow; ox += 16) {
            float* t = din + 2 * oy * w + 2 * ox;
            const pool_window_rows r = max_pool2_backward_16(g + oy * ow + ox, arg + oy * ow + ox);
            _mm512_storeu_ps(t, r.t0);
            _mm512_storeu_ps(t + 16, r.t1);
            _mm512_storeu_ps(t + w, r.b0);
            _mm512_storeu_ps(t + w + 16, r.b1);
          }
        return;
      }
      if (ow == 8 && oh % 2 == 0) {
        for (std::size_t oy = 0; oy < oh; oy += 2) {
          float* t = din + 2 * oy * w;
          const pool_window_rows r = max_pool2_backward_16(g + oy * ow, arg + oy * ow);
          _mm512_storeu_ps(t, r.t0);
          _mm512_storeu_ps(t + 2 * w, r.t1);
          _mm512_storeu_ps(t + w, r.b0);
          _mm512_storeu_ps(t + 3 * w, r.b1);
        }
        return;
      }
      if (ow == 4 && oh % 4 == 0) {
        for (std::size_t oy = 0; oy < oh; oy += 4) {
          float* t = din + 2 * oy * w;
          const pool_window_rows r = max_pool2_backward_16(g + oy * ow, arg + oy * ow);
          store_two_halves(t, 2 * w, r.t0);
          store_two_halves(t + 4 * w, 2 * w, r.t1);
          store_two_halves(t + w, 2 * w, r.b0);
          store_two_halves(t + 5 * w, 2 * w, r.b1);
        }
        return;
      }
    }
#endif
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

// The mean of each K×K window at the given stride (no padding; rows and
// columns past the last whole window left out), over planes of h × w; the
// window is summed in row order and divided once, as global_avg_pool does.
inline void avg_pool_forward(std::size_t planes, std::size_t h, std::size_t w, std::size_t k, std::size_t stride,
                             const float* x, float* y) {
  const std::size_t oh = (h - k) / stride + 1, ow = (w - k) / stride + 1;
  const float area = float(k * k);
  parallel_for(planes, [&](std::size_t p, int) {
    const float* in = x + p * h * w;
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) {
        float s = 0.0f;
        for (std::size_t dy = 0; dy < k; ++dy)
          for (std::size_t dx = 0; dx < k; ++dx) s += in[(oy * stride + dy) * w + ox * stride + dx];
        y[(p * oh + oy) * ow + ox] = s / area;
      }
  });
}
// dx = each window's dy / K², summed where windows overlap (overwritten).
inline void avg_pool_backward(std::size_t planes, std::size_t h, std::size_t w, std::size_t k, std::size_t stride,
                              const float* dy, float* dx) {
  const std::size_t oh = (h - k) / stride + 1, ow = (w - k) / stride + 1;
  const float area = float(k * k);
  parallel_for(planes, [&](std::size_t p, int) {
    float* out = dx + p * h * w;
    std::fill(out, out + h * w, 0.0f);
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) {
        const float g = dy[(p * oh + oy) * ow + ox] / area;
        for (std::size_t dy_ = 0; dy_ < k; ++dy_)
          for (std::size_t dx_ = 0; dx_ < k; ++dx_) out[(oy * stride + dy_) * w + ox * stride + dx_] += g;
      }
  });
}

// The maximum of each K×K window of u8 codes, channels last (batch × h × w
// × channels, as deployed integer networks hand codes on). code_of is
// monotone, so the largest code is the code of the largest float. A
// pixel's codes are adjacent, so a window is K·K vector maxima per run of
// channels.
template <std::size_t k>
void max_pool_pixel_codes(std::size_t batch, std::size_t h, std::size_t w, std::size_t channels,
                          const std::uint8_t* x, std::uint8_t* y) {
  using bytes = xsimd::batch<std::uint8_t>;
  const std::size_t oh = h / k, ow = w / k, vn = channels / bytes::size * bytes::size;
  parallel_for(batch * oh, [&](std::size_t line, int) {
    const std::size_t n = line / oh, oy = line % oh;
    for (std::size_t ox = 0; ox < ow; ++ox) {
      std::uint8_t* out = y + (line * ow + ox) * channels;
      const std::uint8_t* corner = x + ((n * h + oy * k) * w + ox * k) * channels;
      for (std::size_t i = 0; i < vn; i += bytes::size) {
        bytes m = bytes::load_unaligned(corner + i);
        for (std::size_t dy = 0; dy < k; ++dy)
          for (std::size_t dx = 0; dx < k; ++dx)
            m = xsimd::max(m, bytes::load_unaligned(corner + (dy * w + dx) * channels + i));
        m.store_unaligned(out + i);
      }
      for (std::size_t i = vn; i < channels; ++i) {
        std::uint8_t m = corner[i];
        for (std::size_t dy = 0; dy < k; ++dy)
          for (std::size_t dx = 0; dx < k; ++dx) m = std::max(m, corner[(dy * w + dx) * channels + i]);
        out[i] = m;
      }
    }
  });
}

}  // namespace nibble::kernels
