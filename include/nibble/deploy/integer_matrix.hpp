#pragma once
// What a deployed conv2d or linear layer holds when its scheme quantizes
// activations, and the steps around its integer product:
//
//   1. the float input becomes u8 codes on the layer's input grid (the same
//      code_of the trained layer used);
//   2. Σ (c − z)·w is computed in int32 (kernels/int8: VNNI or portable):
//      Σ c·w over the packed codes, minus z·Σ w per row;
//   3. y = (step · s_w)·Σ + bias (kernels/scaled_sums.hpp), then the folded
//      batch norm's a·y + b and ReLU — the very passes, with the very
//      coefficients, that the trained layer and its batch norm run in eval.
//
// The product sums are exact integers on both sides and every float step is
// the same operation on the same numbers, so the deployed output equals the
// trained eval output bit for bit.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nibble/deploy/requantization.hpp"
#include "nibble/deploy/table_row.hpp"
#include "nibble/deploy/weight_codes.hpp"
#include "nibble/deploy/weight_matrix.hpp"
#include "nibble/kernels/activation_codes.hpp"
#include "nibble/kernels/channel_affine.hpp"
#include "nibble/kernels/scaled_sums.hpp"
#include "nibble/kernels/int8/packed_gemm.hpp"
#include "nibble/quant/activations.hpp"
#include "nibble/quant/accumulator.hpp"

namespace nibble::deploy {

// The codes of image n of x (In-shaped: u8 codes channels last when
// CodesIn, else floats made codes on `grid`) channel by channel, into
// planes framed by `frame` pixels on every side, (height + 2·frame) ×
// (width + 2·frame) each; the frame itself is left as it is.
template <class In, bool CodesIn, class Tensor>
void write_code_planes(const Tensor& x, std::size_t n, std::size_t frame, const kernels::code_grid& grid,
                       std::uint8_t* planes) {
  const std::size_t hp = In::height + 2 * frame, wp = In::width + 2 * frame;
  for (std::size_t c = 0; c < In::channels; ++c)
    for (std::size_t iy = 0; iy < In::height; ++iy) {
      std::uint8_t* line = planes + (c * hp + iy + frame) * wp + frame;
      if constexpr (CodesIn) {
        const std::uint8_t* pixel = x.data() + n * In::size + iy * In::width * In::channels + c;
        for (std::size_t ix = 0; ix < In::width; ++ix) line[ix] = pixel[ix * In::channels];
      } else {
        kernels::byte_codes(x.data() + n * In::size + (c * In::height + iy) * In::width, line, In::width, grid);
      }
    }
}

template <class Bits, class Activations, std::size_t Rows, std::size_t Cols, bool Norm, bool Relu>
class integer_matrix {
  static_assert(Bits::quantized && Activations::quantized,
                "nibble::deploy: integer layers need quantized weights and activations.");
  static_assert(Activations::uniform,
                "nibble::deploy: power-of-two activations cannot be deployed yet (the layers hand each other codes "
                "on uniform grids); evaluate the trained network instead.");
  static_assert(accumulator_fits(Cols, Bits::width, Activations::width),
                "nibble::deploy: this layer's integer sums could overflow int32.");

 public:
  using weight_bits = Bits;
  using input_activations = Activations;
  struct arithmetic {  // for descriptions: the products are integer
    static std::string describe() { return "int" + std::to_string(Activations::width <= 8 ? 8 : 32); }
  };
  static constexpr std::size_t weight_count = Rows * Cols;
  static constexpr std::size_t parameter_count = weight_count + 2 * Rows * (Norm ? 2 : 1) + 2;

  weight_codes<Bits> codes{weight_count};
  std::vector<float> input_grid = {1.0f, 0.0f};  // step, zero point
  channel_epilogue<Rows, false> scale;             // (step · s_w, bias)
  channel_epilogue<Rows, Relu> norm;               // the folded batch norm (unused without one)

  template <class Trained>
  void fold_from(const Trained& trained) {
    static_assert(!Norm && !Relu);
    fold(trained);
  }
  template <class Trained, class BatchNorm>
  void fold_from(const Trained& trained, const BatchNorm& bn) {
    static_assert(Norm);
    fold(trained);
    for (std::size_t r = 0; r < Rows; ++r) {
      const auto [a, b] = bn.eval_affine(r);
      norm.multiplier[r] = a;
      norm.offset[r] = b;
    }
  }

  kernels::code_grid grid() const { return {input_grid[0], input_grid[1], float(Activations::max_code)}; }

  template <class F>
  void visit_tensors(F&& f) {
    f(tensor_ref{"weight codes", codes.format, {Rows, Cols}, codes.storage(), {}});
    f(tensor_ref{"input grid", code_format::float32, {2}, {}, input_grid});
    scale.visit_tensors(f);
    if constexpr (Norm) {
      f(tensor_ref{"norm multiplier", code_format::float32, {Rows}, {}, norm.multiplier});
      f(tensor_ref{"norm offset", code_format::float32, {Rows}, {}, norm.offset});
    }
  }
  // The layer-table row of an integer layer: its codes, then its input
  // grid, epilogue and batch norm.
  table_row integer_row(layer_kind kind) const {
    table_row r{.kind = kind, .relu = Relu, .weight_bits = Bits::width <= 4 ? 4 : 8,
                .activation_bits = int(Activations::width), .norm = Norm, .codes = codes.storage()};
    r.floats = {input_grid, scale.multiplier, scale.offset};
    if constexpr (Norm) r.floats.insert(r.floats.end(), {norm.multiplier, norm.offset});
    return r;
  }

  // The requantizers (deploy/requantization.hpp) that make of this
  // layer's uncentred sums Σ c·w the codes the library makes on grid
  // `next` — of its output, or, with relu_after, of a ReLU of it — one per
  // filter, each equal to the library's epilogue on every sum the filter
  // can reach.
  std::vector<requantizer> requantizers(const kernels::code_grid& next, bool relu_after) {
    const auto& zs = zero_point_sums();
    std::vector<requantizer> out(Rows);
    std::vector<std::int32_t> sums;
    std::vector<float> y;
    for (std::size_t r = 0; r < Rows; ++r) {
      const auto [first, last] = centred_sum_range(r);
      const code_function codes_of = [&](const std::int32_t* centred, std::int32_t* out_codes, std::size_t n) {
        sums.resize(n);
        y.resize(n);
        for (std::size_t i = 0; i < n; ++i) sums[i] = centred[i] + zs[r];
        finish_row(r, sums.data(), n, y.data());
        if (relu_after)
          for (float& v : y) v = v > 0.0f ? v : 0.0f;
        kernels::centered_codes(y.data(), y.data(), n, next);  // the library's code_of, less z
        for (std::size_t i = 0; i < n; ++i) out_codes[i] = std::int32_t(y[i] + next.zero);
      };
      out[r] = fit_requantizer(codes_of, first, last, 0, int(next.max_code),
                               "filter " + std::to_string(r))
                   .shifted_by(-zs[r]);
    }
    return out;
  }
  // The library's float epilogue of filter r: its uncentred sums (pixels
  // of them at acc) centred, then step 3, floats to y: the same operations
  // as centred_sums then finish.
  void finish_row(std::size_t r, const std::int32_t* acc, std::size_t pixels, float* y) {
    const std::int32_t correction = zero_point_sums()[r];
    for (std::size_t p = 0; p < pixels; ++p) y[p] = float(acc[p] - correction);
    kernels::scaled_sums(scale.multiplier[r], scale.offset[r], y, y, pixels);
    if constexpr (Norm) kernels::affine_row<Relu>(norm.multiplier[r], norm.offset[r], y, y, pixels);
  }
  // The least and the greatest centred sum Σ (c − z)·w filter r can reach.
  std::pair<std::int32_t, std::int32_t> centred_sum_range(std::size_t r) const {
    const std::int64_t z = std::int64_t(input_grid[1]), top = std::int64_t(Activations::max_code);
    std::int64_t first = 0, last = 0;
    for (std::size_t c = 0; c < Cols; ++c) {
      const std::int64_t w = codes.code(r * Cols + c), a = -z * w, b = (top - z) * w;
      first += std::min(a, b), last += std::max(a, b);
    }
    return {std::int32_t(first), std::int32_t(last)};
  }

  const std::vector<std::int32_t>& zero_point_sums() {
    if (zero_point_sums_.empty()) {
      zero_point_sums_.assign(Rows, 0);
      const std::int32_t z = std::int32_t(input_grid[1]);
      for (std::size_t r = 0; r < Rows; ++r) {
        std::int32_t sum = 0;
        for (std::size_t c = 0; c < Cols; ++c) sum += codes.code(r * Cols + c);
        zero_point_sums_[r] = z * sum;
      }
    }
    return zero_point_sums_;
  }

  std::string fault() const {
    if (std::string f = codes.fault(); !f.empty()) return f;
    const float step = input_grid[0], zero = input_grid[1];
    if (!std::isfinite(step) || !(step > 0.0f))
      return "the input grid's step is " + std::to_string(step) + ", not a positive number";
    if (!(zero >= 0.0f && zero <= float(Activations::max_code)) || zero != std::nearbyint(zero))
      return "the input grid's zero point " + std::to_string(zero) + " is not a code from 0 to " +
             std::to_string(Activations::max_code);
    if (std::string f = scale.fault(); !f.empty()) return f;
    return Norm ? norm.fault() : std::string();
  }

 protected:
  // The weight codes as s8, filter by filter (row by row).
  std::vector<std::int8_t> signed_codes() const {
    std::vector<std::int8_t> w(weight_count);
    for (std::size_t i = 0; i < weight_count; ++i) w[i] = std::int8_t(codes.code(i));
    return w;
  }

  // The packed s8 codes for the kernel, built on the first forward (after
  // conversion or loading has set the codes), with each row's Σ w.
  const kernels::int8::packed_weights& packed() {
    if (packed_.rows == 0) kernels::int8::pack_weights(signed_codes().data(), Rows, Cols, packed_);
    return packed_;
  }
  // int32 sums (Rows × pixels per image, row stride ld) to floats: the
  // centred sum Σ (c − z)·w = Σ c·w − z·Σ w.
  void centred_sums(const std::int32_t* acc, std::size_t ld, std::size_t pixels, float* y, std::size_t y_row,
                    std::size_t y_col) {
    const auto& zs = zero_point_sums();
    for (std::size_t r = 0; r < Rows; ++r)
      for (std::size_t p = 0; p < pixels; ++p) y[r * y_row + p * y_col] = float(acc[r * ld + p] - zs[r]);
  }

  // finish_row for every channel of one image (Rows × pixels sums, row
  // stride ld), while the sums are in cache.
  void finish_image(const std::int32_t* acc, std::size_t ld, std::size_t pixels, float* y) {
    for (std::size_t r = 0; r < Rows; ++r) finish_row(r, acc + r * ld, pixels, y + r * pixels);
  }
  // The same, handed on as codes on grid `next`, channels last, at out.
  // Channel by channel, so each channel's floats stay in L1 on their way
  // to codes (row, row_codes: room the caller keeps); then the codes go to
  // their pixels, 16 at a time, so that both sides of the transpose stay
  // in cache.
  void finish_image_codes(const std::int32_t* acc, std::size_t pixels, const kernels::code_grid& next,
                          std::vector<float>& row, std::vector<std::uint8_t>& row_codes, std::uint8_t* out) {
    row.resize(pixels);
    row_codes.resize(Rows * pixels);
    for (std::size_t r = 0; r < Rows; ++r) {
      finish_row(r, acc + r * pixels, pixels, row.data());
      kernels::byte_codes(row.data(), row_codes.data() + r * pixels, pixels, next);
    }
    const std::uint8_t* codes = row_codes.data();  // (bytes may alias anything: keep the pointers out of the loop)
    for (std::size_t p0 = 0; p0 < pixels; p0 += 16)
      for (std::size_t r = 0; r < Rows; ++r)
        for (std::size_t p = p0; p < std::min(p0 + 16, pixels); ++p) out[p * Rows + r] = codes[r * pixels + p];
  }
  // The same operations for one pixel's sums in the other order: acc holds
  // its Rows sums side by side (the implicit convolution's pixel-major
  // output), y gets its Rows outputs. Vectors run across channels; each
  // element meets the same affine_lanes as in finish_row, so the two orders
  // agree bit for bit. Needs Rows to be a multiple of the vector width.
  void finish_pixel(const std::int32_t* acc, float* y) {
    static_assert(Rows % kernels::fvec_width == 0);
    kernels::centred_affine_across<Norm, Relu>(acc, zero_point_sums().data(), Rows, scale.multiplier.data(),
                                               scale.offset.data(), norm.multiplier.data(), norm.offset.data(), y);
  }

  // Step 3 for a whole batch of centred sums: the trained layer's
  // epilogue, then its batch norm's.
  void finish(std::size_t batch, std::size_t pixels, float* y) const {
    if (pixels == 1) {  // a linear layer: each image's outputs across the channels
      for (std::size_t n = 0; n < batch; ++n)
        kernels::scaled_sums_across(scale.multiplier.data(), scale.offset.data(), y + n * Rows, y + n * Rows, Rows);
    } else {
      for (std::size_t n = 0; n < batch; ++n)
        for (std::size_t r = 0; r < Rows; ++r) {
          float* row = y + (n * Rows + r) * pixels;
          kernels::scaled_sums(scale.multiplier[r], scale.offset[r], row, row, pixels);
        }
    }
    if constexpr (Norm) norm.apply(batch, pixels, y, y);
  }

 private:
  template <class Trained>
  void fold(const Trained& trained) {
    using S = typename Trained::scheme_type;
    static_assert(std::is_same_v<typename S::bit_width, Bits> && std::is_same_v<typename S::activations, Activations> &&
                      Trained::weight_count == weight_count,
                  "nibble::deploy: a deployed layer is filled from the trained layer it was derived from.");
    std::vector<float> wq, scales;
    trained.quantize_for_inference(wq, scales);
    const kernels::code_grid g = trained.inputs.grid();
    input_grid = {g.step, g.zero};
    for (std::size_t r = 0; r < Rows; ++r) {
      const float s = scales[S::per_channel ? r : 0];
      for (std::size_t c = 0; c < Cols; ++c) codes.set_code(r * Cols + c, int(std::nearbyint(wq[r * Cols + c] / s)));
      // As quantized_weight_matrix::scale_integer_sums computes it.
      scale.multiplier[r] = g.step * s;
      scale.offset[r] = trained.bias.value(r);
    }
    packed_ = {};
    zero_point_sums_.clear();
  }

  kernels::int8::packed_weights packed_;
  std::vector<std::int32_t> zero_point_sums_;
};

}  // namespace nibble::deploy
