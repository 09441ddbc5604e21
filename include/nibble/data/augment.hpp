#pragma once
// Per-image preparation: bytes -> normalised floats, optionally with the
// standard CIFAR training augmentation (zero-padded random crop + mirror).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>

#include <xtensor/xtensor.hpp>

#include "nibble/data/cifar.hpp"

namespace nibble::data {

// Per-channel statistics: a pixel byte v becomes (v / 255 - mean[c]) / std[c].
struct normalisation {
  std::array<float, 3> mean{};
  std::array<float, 3> std{};
};

// The usual CIFAR-10 training-set statistics (also used for CIFAR-100).
constexpr normalisation cifar_normalisation() {
  return {{0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}};
}

// Random crop of 32x32 out of the image zero-padded by `pad` on every side,
// then a horizontal flip with probability 1/2 when `flip` is set.
struct augmentation {
  int pad = 4;
  bool flip = true;
};

namespace detail {

// Uniform integer in [0, n) by rejection, so results depend only on the
// engine's (standardised) output and not on the standard library.
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n: values below it are biased
  for (;;) {
    const std::uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

// Normalisation folded into one multiply-add per pixel.
struct channel_affine {
  std::array<float, 3> scale;
  std::array<float, 3> bias;
};

inline channel_affine affine_of(const normalisation& norm) {
  channel_affine a{};
  for (std::size_t c = 0; c < 3; ++c) {
    a.scale[c] = 1.0f / (255.0f * norm.std[c]);
    a.bias[c] = -norm.mean[c] / norm.std[c];
  }
  return a;
}

}  // namespace detail

// Evaluation path: dst (3*32*32 floats, CHW) = normalised src.
inline void normalise_image(const std::uint8_t* src, float* dst,
                            const normalisation& norm = cifar_normalisation()) {
  const detail::channel_affine a = detail::affine_of(norm);
  for (std::size_t c = 0; c < image_channels; ++c) {
    const std::uint8_t* s = src + c * image_plane;
    float* d = dst + c * image_plane;
    for (std::size_t i = 0; i < image_plane; ++i) d[i] = static_cast<float>(s[i]) * a.scale[c] + a.bias[c];
  }
}

// Training path: same output layout as normalise_image. Padding pixels are
// black in pixel space (byte 0), as torchvision's RandomCrop(32, padding=pad)
// does before Normalize, so they come out as -mean/std.
inline void augment_image(const std::uint8_t* src, float* dst, const augmentation& aug, std::mt19937_64& rng,
                          const normalisation& norm = cifar_normalisation()) {
  if (aug.pad < 0) throw std::invalid_argument("nibble::data: augmentation pad must be >= 0, got " + std::to_string(aug.pad));
  const auto span = static_cast<std::uint64_t>(2 * aug.pad + 1);
  // Crop offset in padded coordinates is in [0, 2*pad]; `dy`/`dx` are the same
  // offset relative to the original image, so output (y, x) reads source (y+dy, x+dx).
  const int dy = static_cast<int>(detail::uniform_below(rng, span)) - aug.pad;
  const int dx = static_cast<int>(detail::uniform_below(rng, span)) - aug.pad;
  const bool mirror = aug.flip && (rng() >> 63) != 0;

  constexpr int side = static_cast<int>(image_side);
  // Output columns whose source column lies inside the image; the rest is padding.
  // Unmirrored: sx = x + dx. Mirrored (flip after crop): sx = (side-1-x) + dx.
  const int x_begin = std::max(0, mirror ? dx : -dx);
  const int x_end = std::min(side, mirror ? side + dx : side - dx);

  const detail::channel_affine a = detail::affine_of(norm);
  for (std::size_t c = 0; c < image_channels; ++c) {
    const std::uint8_t* plane = src + c * image_plane;
    float* out = dst + c * image_plane;
    const float scale = a.scale[c];
    const float zero = a.bias[c];  // normalised black
    for (int y = 0; y < side; ++y, out += side) {
      const int sy = y + dy;
      if (sy < 0 || sy >= side || x_begin >= x_end) {
        std::fill(out, out + side, zero);
        continue;
      }
      const std::uint8_t* row = plane + sy * side;
      std::fill(out, out + x_begin, zero);
      if (mirror) {
        for (int x = x_begin; x < x_end; ++x) out[x] = static_cast<float>(row[side - 1 - x + dx]) * scale + zero;
      } else {
        for (int x = x_begin; x < x_end; ++x) out[x] = static_cast<float>(row[x + dx]) * scale + zero;
      }
      std::fill(out + x_end, out + side, zero);
    }
  }
}

// Every image of a batch (N, C, H, W) mirrored left to right, for
// test-time flip augmentation.
inline void mirror_images(const xt::xtensor<float, 4>& in, xt::xtensor<float, 4>& out) {
  out.resize(in.shape());
  const std::size_t rows = in.shape(0) * in.shape(1) * in.shape(2), width = in.shape(3);
  for (std::size_t r = 0; r < rows; ++r) std::reverse_copy(in.data() + r * width, in.data() + (r + 1) * width,
                                                          out.data() + r * width);
}

}  // namespace nibble::data
