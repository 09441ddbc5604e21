#pragma once
// Per-image preparation: samples -> normalised floats, optionally with the
// standard training augmentation (zero-padded random crop + mirror, and
// optionally cutout), for images of any shape.

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "nibble/data/dataset.hpp"

namespace nibble::data {

// Random crop of H x W out of the image zero-padded by `pad` on every side,
// then a horizontal flip with probability 1/2 when `flip` is set, then, when
// `cutout` > 0, a cutout x cutout square at a random place inside the image
// set to the mean colour (0 once normalised), as DeVries and Taylor's cutout
// masks the normalised image. {0, false} leaves images as they are.
// With `alternate_flip` the batch loader decides the mirror instead: each
// image is mirrored in every other epoch, from a random first one, so that
// any two epochs in a row show both of its sides (airbench's derandomized
// flip); the random draw is still made, so the crops stay the same.
// With `reflect` the crop reads past the border by reflecting the image
// there (numpy's "reflect": the edge pixel is not repeated) instead of
// padding it with black, as airbench translates its images.
struct augmentation {
  int pad = 4;
  bool flip = true;
  int cutout = 0;               // side of the masked square in pixels; 0: none
  bool alternate_flip = false;  // with flip: the loader alternates each image's mirror by epoch
  bool reflect = false;         // pad by reflection instead of black
  friend bool operator==(const augmentation&, const augmentation&) = default;
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

// Index i of a row or column of n reflected at its ends (numpy's "reflect":
// the edge is not repeated); |i| must stay below n.
inline int reflect_index(int i, int n) { return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i; }

}  // namespace detail

// Turns images of one shape into the network's floats: the normalisation
// folded into one fused multiply-add per sample (channel_normaliser).
template <image_sample Sample>
class image_preparation {
 public:
  image_preparation(image_shape shape, const normalisation& norm) : shape_(shape) {
    if (norm.mean.size() != shape.channels || norm.std.size() != shape.channels)
      throw std::invalid_argument("nibble::data: a normalisation for " + std::to_string(norm.mean.size()) +
                                  " channels cannot prepare images of " + shape.text());
    for (std::size_t c = 0; c < shape.channels; ++c) channels_.push_back(normaliser_of<Sample>(norm, c));
  }
  explicit image_preparation(const basic_dataset<Sample>& d) : image_preparation(d.shape, d.norm) {}

  const image_shape& shape() const { return shape_; }

  // Evaluation path: dst (shape().size() floats, CHW) = normalised src.
  void normalise(const Sample* src, float* dst) const {
    const std::size_t plane = shape_.plane();
    for (std::size_t c = 0; c < shape_.channels; ++c) {
      const Sample* s = src + c * plane;
      float* d = dst + c * plane;
      const channel_normaliser f = channels_[c];
      for (std::size_t i = 0; i < plane; ++i) d[i] = f(static_cast<float>(s[i]));
    }
  }

  // Training path: same output layout as normalise. Padding is sample 0
  // (black), as torchvision's RandomCrop(padding=pad) pads before Normalize,
  // so it comes out as -mean/std.
  // `mirror_given`, when set, overrides the random mirror (which is drawn all
  // the same): it is how the loader alternates flips.
  void augment(const Sample* src, float* dst, const augmentation& aug, std::mt19937_64& rng,
               std::optional<bool> mirror_given = std::nullopt) const {
    if (aug.pad < 0)
      throw std::invalid_argument("nibble::data: augmentation pad must be >= 0, got " + std::to_string(aug.pad));
    if (aug.cutout < 0 || std::size_t(aug.cutout) > std::min(shape_.height, shape_.width))
      throw std::invalid_argument("nibble::data: a cutout square of " + std::to_string(aug.cutout) +
                                  " pixels does not fit " + shape_.text() + " images");
    const auto span = static_cast<std::uint64_t>(2 * aug.pad + 1);
    // The crop offset in padded coordinates is in [0, 2*pad]; `dy`/`dx` are the
    // same offset relative to the image, so output (y, x) reads (y+dy, x+dx).
    const int dy = static_cast<int>(detail::uniform_below(rng, span)) - aug.pad;
    const int dx = static_cast<int>(detail::uniform_below(rng, span)) - aug.pad;
    const bool drawn = aug.flip && (rng() >> 63) != 0;  // drawn with flip even when given: same crops
    const bool mirror = aug.flip && mirror_given.value_or(drawn);

    const int height = static_cast<int>(shape_.height), width = static_cast<int>(shape_.width);
    if (aug.reflect && (aug.pad >= height || aug.pad >= width))
      throw std::invalid_argument("nibble::data: a reflected pad of " + std::to_string(aug.pad) +
                                  " pixels does not fit " + shape_.text() + " images");
    if (aug.reflect) {
      using detail::reflect_index;
      for (std::size_t c = 0; c < shape_.channels; ++c) {
        const Sample* plane = src + c * shape_.plane();
        float* out = dst + c * shape_.plane();
        const channel_normaliser f = channels_[c];
        for (int y = 0; y < height; ++y, out += width) {
          const Sample* row = plane + reflect_index(y + dy, height) * width;
          for (int x = 0; x < width; ++x)
            out[x] = f(static_cast<float>(row[reflect_index(mirror ? width - 1 - x + dx : x + dx, width)]));
        }
      }
    }
    // Output columns whose source column lies inside the image; the rest is padding.
    // Unmirrored: sx = x + dx. Mirrored (flip after crop): sx = (width-1-x) + dx.
    const int x_begin = std::max(0, mirror ? dx : -dx);
    const int x_end = std::min(width, mirror ? width + dx : width - dx);

    for (std::size_t c = 0; c < shape_.channels && !aug.reflect; ++c) {  // black borders (reflected: above)
      const Sample* plane = src + c * shape_.plane();
      float* out = dst + c * shape_.plane();
      const channel_normaliser f = channels_[c];
      const float zero = f(0.0f);  // normalised black
      for (int y = 0; y < height; ++y, out += width) {
        const int sy = y + dy;
        if (sy < 0 || sy >= height || x_begin >= x_end) {
          std::fill(out, out + width, zero);
          continue;
        }
        const Sample* row = plane + sy * width;
        std::fill(out, out + x_begin, zero);
        if (mirror) {
          for (int x = x_begin; x < x_end; ++x) out[x] = f(static_cast<float>(row[width - 1 - x + dx]));
        } else {
          for (int x = x_begin; x < x_end; ++x) out[x] = f(static_cast<float>(row[x + dx]));
        }
        std::fill(out + x_end, out + width, zero);
      }
    }
    // Drawn last and only when asked for, so runs without cutout see the
    // same random stream as before it existed.
    if (aug.cutout > 0) {
      const int side = aug.cutout;
      const int top = static_cast<int>(detail::uniform_below(rng, std::uint64_t(height - side + 1)));
      const int left = static_cast<int>(detail::uniform_below(rng, std::uint64_t(width - side + 1)));
      for (std::size_t c = 0; c < shape_.channels; ++c)
        for (int y = top; y < top + side; ++y) {
          float* row = dst + c * shape_.plane() + std::size_t(y * width);
          std::fill(row + left, row + left + side, 0.0f);
        }
    }
  }

 private:
  image_shape shape_;
  std::vector<channel_normaliser> channels_;
};

template <class Sample>
image_preparation(const basic_dataset<Sample>&) -> image_preparation<Sample>;

// Images first … first + count − 1 of d as the network takes them
// (normalised, unaugmented), as one batch.
template <class Sample>
xt::xtensor<float, 4> normalised_images(const basic_dataset<Sample>& d, std::size_t first, std::size_t count) {
  if (first + count > d.size() || first + count < first)
    throw std::invalid_argument("nibble::data: images " + std::to_string(first) + " to " +
                                std::to_string(first + count) + " asked of a set of " + std::to_string(d.size()));
  const image_preparation<Sample> prepare(d);
  xt::xtensor<float, 4> out({count, d.shape.channels, d.shape.height, d.shape.width});
  for (std::size_t i = 0; i < count; ++i) prepare.normalise(d.image(first + i), out.data() + i * d.shape.size());
  return out;
}

// Every image of a batch (N, C, H, W) mirrored left to right, for
// test-time flip augmentation.
inline void mirror_images(const xt::xtensor<float, 4>& in, xt::xtensor<float, 4>& out) {
  out.resize(in.shape());
  const std::size_t rows = in.shape(0) * in.shape(1) * in.shape(2), width = in.shape(3);
  for (std::size_t r = 0; r < rows; ++r) std::reverse_copy(in.data() + r * width, in.data() + (r + 1) * width,
                                                          out.data() + r * width);
}

// Every image of a batch (N, C, H, W) moved by (dy, dx) pixels: output
// (y, x) reads input (y - dy, x - dx), and what falls outside is filled by
// reflecting at the border (as numpy's "reflect": the edge pixel is not
// repeated). For test-time views; |dy| and |dx| must be below H and W.
inline void shift_images(const xt::xtensor<float, 4>& in, int dy, int dx, xt::xtensor<float, 4>& out) {
  const int height = int(in.shape(2)), width = int(in.shape(3));
  if (std::abs(dy) >= height || std::abs(dx) >= width)
    throw std::invalid_argument("nibble::data: cannot shift " + std::to_string(height) + "x" + std::to_string(width) +
                                " images by (" + std::to_string(dy) + ", " + std::to_string(dx) + ") pixels");
  using detail::reflect_index;
  out.resize(in.shape());
  const std::size_t planes = in.shape(0) * in.shape(1), plane = std::size_t(height * width);
  for (std::size_t p = 0; p < planes; ++p) {
    const float* src = in.data() + p * plane;
    float* dst = out.data() + p * plane;
    for (int y = 0; y < height; ++y) {
      const float* row = src + reflect_index(y - dy, height) * width;
      for (int x = 0; x < width; ++x) *dst++ = row[reflect_index(x - dx, width)];
    }
  }
}

}  // namespace nibble::data
