#pragma once
// deploy::image_input<Options...> (codes_out)
//
// Represents: the first layer of every deployed network. It takes the
// image's bytes (image_batch) and normalises each channel as training fed
// it, (v / 255 − mean) / std (data::channel_normaliser, the very fused
// multiply-add the data pipeline runs), so no program has to repeat the
// training's normalisation to use a model file.
// CodesOut: the next layer is an integer conv2d, which wants codes on its
// input grid (output_grid, set by link_code_grids). A byte has 256 values,
// so each channel's codes come from a 256-entry table: code_of(normalised
// v), the code the trained layer makes of the float evaluation hands it.
// Otherwise the layer writes the normalised floats.
// Requires: 8-bit images of the trained network's input shape.
// Ensures: with CodesOut, codes channels last (code_activation); else
// floats equal to data::image_preparation::normalise's, bit for bit.
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "nibble/data/augment.hpp"
#include "nibble/data/dataset.hpp"
#include "nibble/deploy/options.hpp"
#include "nibble/deploy/table_row.hpp"
#include "nibble/deploy/weight_matrix.hpp"
#include "nibble/kernels/activation_codes.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble::deploy {

template <class In, class... Options>
class image_input_layer {
  static constexpr bool CodesOut = has_option<deploy::codes_out, Options...>;

  static_assert(!In::is_flat, "nibble::deploy: a deployed network takes images (channels x height x width).");

 public:
  using input_shape = In;
  using output_shape = In;
  using input_tensor = image_batch;
  using output_tensor = std::conditional_t<CodesOut, code_activation, activation>;
  static constexpr bool codes_out = CodesOut;
  static constexpr std::size_t parameter_count = 2 * In::channels;
  // The same words with codes or floats out: a model file describes the
  // network, not how its layers hand values on.
  static std::string describe() { return "8-bit image, each channel normalised (mean, std of pixel/255)"; }

  std::vector<float> mean = std::vector<float>(In::channels, 0.0f);  // of pixel / 255, per channel
  std::vector<float> std = std::vector<float>(In::channels, 1.0f);

  // The grid of the codes handed on: the next integer layer's input grid.
  // Not part of a model file.
  kernels::code_grid output_grid{0.0f, 0.0f, 0.0f};

  void set_normalisation(const data::normalisation& n) {
    if (n.mean.size() != In::channels || n.std.size() != In::channels)
      throw std::invalid_argument("nibble::deploy: the network takes images of " + std::to_string(In::channels) +
                                  " channels, but the normalisation has " + std::to_string(n.mean.size()) +
                                  " means and " + std::to_string(n.std.size()) + " deviations");
    if (std::string f = fault_of(n.mean, n.std); !f.empty()) throw std::invalid_argument("nibble::deploy: " + f);
    mean = n.mean;  // only once checked: a refused normalisation leaves the layer as it was
    std = n.std;
  }
  data::normalisation normalisation() const { return {mean, std}; }
  data::channel_normaliser normaliser(std::size_t c) const {
    return data::normaliser_of<std::uint8_t>(mean[c], std[c]);
  }

  void forward(const image_batch& x, output_tensor& y, context&) {
    const std::size_t batch = x.shape(0);
    // Images are shared among the threads, as the layers after it share them.
    if constexpr (CodesOut) {
      constexpr std::size_t plane = In::height * In::width;
      const std::uint8_t* table = code_table().data();
      kernels::parallel_for(batch, [&](std::size_t n, int) {
        const std::uint8_t* image = x.data() + n * In::size;
        std::uint8_t* out = y.data() + n * In::size;
        for (std::size_t p = 0; p < plane; ++p, out += In::channels)  // writes in order, a pixel at a time
          for (std::size_t c = 0; c < In::channels; ++c) out[c] = table[c * 256 + image[c * plane + p]];
      });
    } else {  // the data pipeline's own evaluation path
      const data::image_preparation<std::uint8_t> prepare({In::channels, In::height, In::width}, normalisation());
      kernels::parallel_for(batch, [&](std::size_t n, int) {
        prepare.normalise(x.data() + n * In::size, y.data() + n * In::size);
      });
    }
  }

  template <class F>
  void visit_tensors(F&& f) {
    f(tensor_ref{"input mean", code_format::float32, {In::channels}, {}, mean});
    f(tensor_ref{"input std", code_format::float32, {In::channels}, {}, std});
  }
  std::string fault() const { return fault_of(mean, std); }

  // Its row of a layer table: the normalisation as the library computes
  // it, a scale and a bias per channel.
  deploy::table_row table_row() const {
    std::vector<float> scale_and_bias;
    for (std::size_t c = 0; c < In::channels; ++c) scale_and_bias.push_back(normaliser(c).scale);
    for (std::size_t c = 0; c < In::channels; ++c) scale_and_bias.push_back(normaliser(c).bias);
    return {.kind = layer_kind::image, .floats = {scale_and_bias}};
  }

  // code_of(normaliser(c)(v)) on grid g for every channel c and byte v:
  // table[c · 256 + v].
  std::vector<std::uint8_t> code_table(const kernels::code_grid& g) const {
    std::vector<std::uint8_t> table(In::channels * 256);
    for (std::size_t c = 0; c < In::channels; ++c) {
      const data::channel_normaliser f = normaliser(c);
      for (std::size_t v = 0; v < 256; ++v) table[c * 256 + v] = std::uint8_t(kernels::code_of(f(float(v)), g));
    }
    return table;
  }

 private:
  static std::string fault_of(const std::vector<float>& m, const std::vector<float>& s) {
    for (std::size_t c = 0; c < In::channels; ++c)
      if (!std::isfinite(m[c]) || !std::isfinite(s[c]) || !(s[c] > 0.0f))
        return "the input normalisation of channel " + std::to_string(c) + " (mean " + std::to_string(m[c]) +
               ", std " + std::to_string(s[c]) + ") needs a finite mean and a finite std above 0";
    return {};
  }

  // code_table(output_grid), rebuilt when the normalisation or the grid it
  // was built for has changed (after conversion, loading or linking).
  const std::vector<std::uint8_t>& code_table() {
    if (!(output_grid.step > 0.0f))
      throw std::logic_error("nibble::deploy: the image input hands codes on but has no output grid; "
                             "deploy::convert and model file loading set it (deploy::link_code_grids)");
    const bool current = !table_.empty() && table_mean_ == mean && table_std_ == std &&
                         table_grid_[0] == output_grid.step && table_grid_[1] == output_grid.zero &&
                         table_grid_[2] == output_grid.max_code;
    if (!current) {
      table_ = code_table(output_grid);
      table_mean_ = mean;
      table_std_ = std;
      table_grid_ = {output_grid.step, output_grid.zero, output_grid.max_code};
    }
    return table_;
  }
  std::vector<std::uint8_t> table_;
  std::vector<float> table_mean_, table_std_;
  std::array<float, 3> table_grid_{};
};

template <class... Options>
struct image_input {
  template <class In>
  static constexpr bool accepts = !In::is_flat;
  template <class In>
  using bind = image_input_layer<In, Options...>;
  template <class Tag>
  using with = image_input<Options..., Tag>;
};

}  // namespace nibble::deploy
