#pragma once
// The geometry of a convolution and col2im. The im2col matrix of an image
// has rows (channel, ky, kx) and columns output pixels; conv.hpp packs its
// blocks straight from the image, and col2im, its adjoint, turns the product
// Wᵀ·dy back into an input gradient (strided convolutions).
#include <cstddef>
#include <cstring>
#include <string>

namespace nibble::kernels {

// A kernel's or a padding's size as a template argument: one number for
// both sides (conv2d<16, 3, S>), or window{height, width}
// (conv2d<64, window{10, 4}, S, 2, window{5, 1}>).
struct window {
  std::size_t height, width;
  constexpr window(std::size_t both) : height(both), width(both) {}
  constexpr window(std::size_t h, std::size_t w) : height(h), width(w) {}
  constexpr bool square() const { return height == width; }
  constexpr std::size_t area() const { return height * width; }
  constexpr window half() const { return {height / 2, width / 2}; }  // "same" padding at stride 1, odd sizes
  // "10x4", or "3" for a square (as descriptions and model files name them).
  std::string text() const {
    return square() ? std::to_string(height) : std::to_string(height) + "x" + std::to_string(width);
  }
};

// A convolution's shape: kernel and padding are along the height; along
// the width they are kernel_width and padding_width, the same unless given
// (a square kernel: {c, h, w, k, s, p}).
struct conv_geometry {
  std::size_t channels, height, width, kernel, stride, padding;
  std::size_t kernel_width = kernel, padding_width = padding;
  constexpr bool square() const { return kernel_width == kernel && padding_width == padding; }
  constexpr std::size_t taps() const { return kernel * kernel_width; }
  constexpr std::size_t out_height() const { return (height + 2 * padding - kernel) / stride + 1; }
  constexpr std::size_t out_width() const { return (width + 2 * padding_width - kernel_width) / stride + 1; }
  constexpr std::size_t col_rows() const { return channels * taps(); }
  constexpr std::size_t col_cols() const { return out_height() * out_width(); }
};

// image += adjoint of im2col applied to col (image must be zeroed first).
inline void col2im(const conv_geometry& g, const float* col, float* image) {
  const std::size_t oh = g.out_height(), ow = g.out_width();
  for (std::size_t c = 0; c < g.channels; ++c)
    for (std::size_t ky = 0; ky < g.kernel; ++ky)
      for (std::size_t kx = 0; kx < g.kernel_width; ++kx) {
        const float* row = col + ((c * g.kernel + ky) * g.kernel_width + kx) * oh * ow;
        for (std::size_t oy = 0; oy < oh; ++oy) {
          const std::ptrdiff_t iy = std::ptrdiff_t(oy * g.stride + ky) - std::ptrdiff_t(g.padding);
          if (iy < 0 || iy >= std::ptrdiff_t(g.height)) continue;
          float* out = image + (c * g.height + std::size_t(iy)) * g.width;
          const float* in = row + oy * ow;
          for (std::size_t ox = 0; ox < ow; ++ox) {
            const std::ptrdiff_t ix = std::ptrdiff_t(ox * g.stride + kx) - std::ptrdiff_t(g.padding_width);
            if (ix >= 0 && ix < std::ptrdiff_t(g.width)) out[ix] += in[ox];
          }
        }
      }
}

}  // namespace nibble::kernels
