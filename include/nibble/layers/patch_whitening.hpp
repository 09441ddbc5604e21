#pragma once
// patch_whitening<Kernel, Scheme>
//
// Represents: a Kernel×Kernel convolution whose 2·C·K² filters are fixed
// by the data, not trained: the eigenvectors of the
// second-moment matrix of the training images' K×K patches, each divided by
// the square root of its eigenvalue (plus ε), and their negatives. Its
// outputs start decorrelated with unit variance, so the first trained layer
// need not learn that (the first layer of the fastest CIFAR-10 recipes,
// airbench). Only the bias per filter is a parameter.
// Requires: a spatial input at least K×K; fit() with training images before
// training (until then the filters are a He init, as any conv's).
// Ensures: output 2·C·K² × H × W: the image is extended by K − 1 rows at
// the bottom and columns at the right, reflected (airbench pads nothing and
// gets 31×31 from 32×32; keeping 32 keeps every later layer on the fast
// kernels for rows of 32, 16, 8 and 4 pixels). The filters are a
// buffer, so checkpoints and model files keep them; with a quantized Scheme
// they are quantized to its bit width with a scale per filter (their norms
// differ by the eigenvalues' spread, so one scale would zero the small ones).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "nibble/core/symmetric_eigen.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/quant/presets.hpp"

namespace nibble {

namespace detail {
// The fixed filters' scheme: the bit width and arithmetic of Scheme, a scale
// per filter, nothing else (they are never updated, so no clip).
template <class Scheme>
using whitening_scheme =
    std::conditional_t<Scheme::quantized,
                       scheme<typename Scheme::bit_width, no_clip, abs_max_per_channel, ste,
                              typename Scheme::arithmetic>,
                       with_arithmetic_t<float32_scheme, typename Scheme::arithmetic>>;
}  // namespace detail

template <class In, std::size_t Kernel, class Scheme>
class patch_whitening_layer {
  static_assert(!Scheme::quantizes_activations,
                "nibble::patch_whitening: the layer reads the image's floats; it is not built for quantized inputs.");
  static constexpr std::size_t patch = In::channels * Kernel * Kernel;
  static constexpr std::size_t padded_height = In::height + Kernel - 1, padded_width = In::width + Kernel - 1;
  using padded_shape = shape<In::channels, padded_height, padded_width>;
  using conv_type = conv2d_layer<padded_shape, 2 * patch, Kernel, detail::whitening_scheme<Scheme>, 1, 0>;
  static_assert(In::height >= Kernel && In::width >= Kernel,
                "nibble::patch_whitening: the image must be at least as large as the kernel.");

 public:
  using input_shape = In;
  using output_shape = shape<2 * patch, In::height, In::width>;
  static constexpr std::size_t filters = 2 * patch;
  static constexpr std::size_t parameter_count = filters;  // the bias
  static constexpr double epsilon = 5e-4;                  // added to each eigenvalue

  static std::string describe() {
    return "patch_whitening " + std::to_string(filters) + " filters " + std::to_string(Kernel) + "x" +
           std::to_string(Kernel) + " (fixed); weights " + detail::whitening_scheme<Scheme>::describe();
  }

  void init(std::mt19937_64& rng) { conv_.init(rng); }

  // Sets the filters from images (N × C × H × W, normalised as training
  // feeds them): every K×K patch of every image counts once.
  void fit(const activation& images) {
    if (images.dimension() != 4 || images.shape(1) != In::channels || images.shape(2) != In::height ||
        images.shape(3) != In::width || images.shape(0) == 0)
      throw std::invalid_argument("nibble::patch_whitening: fit needs a non-empty batch of the network's images");
    const std::size_t n = images.shape(0), oh = In::height - Kernel + 1, ow = In::width - Kernel + 1;
    std::vector<double> moments(patch * patch, 0.0), p(patch);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t y = 0; y < oh; ++y)
        for (std::size_t x = 0; x < ow; ++x) {
          std::size_t k = 0;  // the patch in the filter's layout: channel, row, column
          for (std::size_t c = 0; c < In::channels; ++c)
            for (std::size_t dy = 0; dy < Kernel; ++dy)
              for (std::size_t dx = 0; dx < Kernel; ++dx) p[k++] = images(i, c, y + dy, x + dx);
          for (std::size_t a = 0; a < patch; ++a)
            for (std::size_t b = a; b < patch; ++b) moments[a * patch + b] += p[a] * p[b];
        }
    for (double& m : moments) m /= double(n * oh * ow);
    const symmetric_eigen e = eigen_decompose(std::move(moments), patch);
    for (std::size_t f = 0; f < patch; ++f) {
      const double gain = 1.0 / std::sqrt(std::max(e.values[f], 0.0) + epsilon);
      for (std::size_t k = 0; k < patch; ++k) {
        const float w = float(e.vectors[f * patch + k] * gain);
        conv_.weight.value(f * patch + k) = w;
        conv_.weight.value((patch + f) * patch + k) = -w;
      }
    }
    conv_.bias.value.fill(0.0f);
  }

  void forward(const activation& x, activation& y, context& ctx) {
    const std::size_t n = x.shape(0);
    ensure_batch_shape<padded_shape>(padded_, n);
    for (std::size_t p = 0; p < n * In::channels; ++p)
      for (std::size_t r = 0; r < padded_height; ++r) {
        const float* row = x.data() + (p * In::height + reflect(r, In::height)) * In::width;
        float* out = padded_.data() + (p * padded_height + r) * padded_width;
        for (std::size_t c = 0; c < padded_width; ++c) out[c] = row[reflect(c, In::width)];
      }
    conv_.forward(padded_, y, ctx);
  }
  void backward(const activation&, const activation& y, const activation& dy, activation* dx, context& ctx) {
    // Also a weight gradient, which nothing reads.
    ensure_batch_shape<padded_shape>(padded_gradient_, dy.shape(0));
    conv_.backward(padded_, y, dy, dx ? &padded_gradient_ : nullptr, ctx);
    if (!dx) return;
    dx->fill(0.0f);
    for (std::size_t p = 0; p < dy.shape(0) * In::channels; ++p)
      for (std::size_t r = 0; r < padded_height; ++r) {
        float* row = dx->data() + (p * In::height + reflect(r, In::height)) * In::width;
        const float* g = padded_gradient_.data() + (p * padded_height + r) * padded_width;
        for (std::size_t c = 0; c < padded_width; ++c) row[reflect(c, In::width)] += g[c];
      }
  }

  template <class F>
  void visit_parameters(F&& f) {
    f(conv_.bias);
  }
  template <class F>
  void visit_buffers(F&& f) {
    f(conv_.weight.value);
    conv_.visit_buffers(f);
  }
  void post_step() {}

  // The filters as the forward pass uses them (quantized when Scheme is).
  const float* filters_used() const { return conv_.quantized_weights().data(); }

 private:
  // Index i of a row or column extended past its end by reflection.
  static constexpr std::size_t reflect(std::size_t i, std::size_t n) { return i < n ? i : 2 * n - 2 - i; }

  conv_type conv_;
  activation padded_, padded_gradient_;
};

template <std::size_t Kernel, quant_scheme Scheme>
struct patch_whitening {
  static_assert(Kernel > 0, "nibble::patch_whitening: the kernel must be positive.");
  template <class In>
  static constexpr bool accepts = !In::is_flat && In::height >= Kernel && In::width >= Kernel;
  template <class In>
  using bind = patch_whitening_layer<In, Kernel, Scheme>;
};

// Fits every patch_whitening layer of net to images; returns how many it fitted.
template <class Net>
std::size_t fit_patch_whitening(Net& net, const activation& images) {
  std::size_t fitted = 0;
  net.visit_layers([&](auto& l) {
    if constexpr (requires { l.fit(images); }) {
      l.fit(images);
      ++fitted;
    }
  });
  return fitted;
}

}  // namespace nibble
