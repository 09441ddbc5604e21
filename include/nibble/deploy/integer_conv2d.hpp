#pragma once
// deploy::integer_conv2d<Out, Kernel, Bits, Activations, Stride, Padding, Norm, Relu, CodesIn, CodesOut>
//
// Represents: the inference form of a nibble::conv2d whose scheme quantizes
// activations: u8 input codes × s8 weight codes summed in int32
// (integer_matrix.hpp), then the trained epilogue and folded batch norm.
// CodesIn: the layer before hands it u8 codes on its input grid, instead
// of floats it would turn into codes. CodesOut: it hands the next integer
// layer codes on that layer's grid (output_grid, set by link_code_grids),
// instead of floats. deploy::convert chooses both.
// Requires: the input shape the trained layer had.
// Ensures: the trained layer's eval output (after its batch norm and ReLU
// when folded), bit for bit; with CodesOut, the codes the next layer would
// make of it.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "nibble/deploy/integer_matrix.hpp"
#include "nibble/kernels/conv.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble::deploy {

template <class In, std::size_t Out, std::size_t Kernel, class Bits, class Activations, std::size_t Stride,
          std::size_t Padding, bool Norm, bool Relu, bool CodesIn = false, bool CodesOut = false>
class integer_conv2d_layer
    : public integer_matrix<Bits, Activations, Out, In::channels * Kernel * Kernel, Norm, Relu> {
 public:
  using input_shape = In;
  using input_tensor = std::conditional_t<CodesIn, code_activation, activation>;
  using output_tensor = std::conditional_t<CodesOut, code_activation, activation>;
  static constexpr bool codes_in = CodesIn, codes_out = CodesOut;
  static constexpr kernels::conv_geometry geometry{In::channels, In::height, In::width, Kernel, Stride, Padding};
  using output_shape = shape<Out, geometry.out_height(), geometry.out_width()>;
  static constexpr std::size_t pixels = output_shape::height * output_shape::width;
  static constexpr std::size_t depth = In::channels * Kernel * Kernel;

  static std::string describe() {
    return "conv2d " + std::to_string(Out) + " filters " + std::to_string(Kernel) + "x" + std::to_string(Kernel) +
           ", stride " + std::to_string(Stride) + ", padding " + std::to_string(Padding) + "; " + Bits::describe() +
           " weight codes x " + std::to_string(Activations::width) + "-bit input codes, int32 sums" +
           (Norm ? ", batch norm folded" : "") + (Relu ? ", relu" : "");
  }

  // The grid of the codes handed on (step, zero point, largest code):
  // the next integer layer's input grid. Not part of a model file.
  kernels::code_grid output_grid{0.0f, 0.0f, 0.0f};

  void forward(const input_tensor& x, output_tensor& y, context&) {
    const std::size_t batch = x.shape(0);
    const auto& w = this->packed();
    const kernels::code_grid g = this->grid();
    const std::uint8_t pad = std::uint8_t(g.zero);
    if constexpr (CodesOut) {
      if (!(output_grid.step > 0.0f))
        throw std::logic_error("nibble::deploy: an integer conv2d that hands codes on has no output grid; "
                               "deploy::convert and model file loading set it (deploy::link_code_grids)");
    }
    scratch_.resize(std::size_t(kernels::max_threads()));
    const auto image = [&](std::size_t n, int t) {
      auto& s = scratch_[std::size_t(t)];
      const std::uint8_t* codes = nullptr;
      if constexpr (CodesIn) {
        codes = x.data() + n * In::size;
      } else {
        s.codes.resize(In::size);
        kernels::byte_codes(x.data() + n * In::size, s.codes.data(), In::size, g);
        codes = s.codes.data();
      }
      kernels::int8::pack_columns(depth, pixels, [&](std::size_t k, std::uint8_t* row) {
        im2col_row(codes, k, pad, row);
      }, s.columns);
      s.sums.resize(Out * pixels);
      kernels::int8::packed_gemm(w, s.columns, s.sums.data(), pixels);
      if constexpr (CodesOut) {
        // Row by row, so each channel's floats stay in L1 on their way to codes.
        s.row.resize(pixels);
        for (std::size_t r = 0; r < Out; ++r) {
          this->finish_row(r, s.sums.data() + r * pixels, pixels, s.row.data());
          kernels::byte_codes(s.row.data(), y.data() + (n * Out + r) * pixels, pixels, output_grid);
        }
      } else {
        this->finish_image(s.sums.data(), pixels, pixels, y.data() + n * Out * pixels);
      }
    };
    // Threads take whole images, or, when there are fewer images than
    // threads, share each image's product.
    if (batch >= std::size_t(kernels::max_threads())) {
      kernels::parallel_for(batch, image);
    } else {
      for (std::size_t n = 0; n < batch; ++n) image(n, 0);
    }
  }

  // Row k = (c, ky, kx) of the image's im2col matrix: the input code under
  // tap (ky, kx) of every output pixel, the zero point where it falls on
  // the padding.
  static void im2col_row(const std::uint8_t* image, std::size_t k, std::uint8_t pad, std::uint8_t* row) {
    const std::size_t c = k / (Kernel * Kernel), ky = k / Kernel % Kernel, kx = k % Kernel;
    const std::uint8_t* plane = image + c * In::height * In::width;
    for (std::size_t oy = 0; oy < output_shape::height; ++oy) {
      const long iy = long(oy * Stride + ky) - long(Padding);
      std::uint8_t* out = row + oy * output_shape::width;
      if (iy < 0 || iy >= long(In::height)) {
        std::fill(out, out + output_shape::width, pad);
        continue;
      }
      const std::uint8_t* line = plane + std::size_t(iy) * In::width;
      if constexpr (Stride == 1) {  // one run of the input line, padding either side
        const long shift = long(kx) - long(Padding);
        const long width = long(output_shape::width);
        const long first = std::min(std::max(0L, -shift), width), last = std::min(width, long(In::width) - shift);
        std::fill(out, out + first, pad);
        if (last > first) std::memcpy(out + first, line + first + shift, std::size_t(last - first));
        std::fill(out + std::max(first, last), out + width, pad);
      } else {
        for (std::size_t ox = 0; ox < output_shape::width; ++ox) {
          const long ix = long(ox * Stride + kx) - long(Padding);
          out[ox] = ix < 0 || ix >= long(In::width) ? pad : line[ix];
        }
      }
    }
  }

  struct thread_scratch {
    std::vector<std::uint8_t> codes;  // one image's input codes
    std::vector<float> row;           // one channel's output floats, before they become codes
    kernels::int8::packed_columns columns;
    std::vector<std::int32_t> sums;
  };
  std::vector<thread_scratch> scratch_;
};

template <std::size_t Out, std::size_t Kernel, class Bits, class Activations, std::size_t Stride, std::size_t Padding,
          bool Norm, bool Relu, bool CodesIn = false, bool CodesOut = false>
struct integer_conv2d {
  template <class In>
  static constexpr bool accepts =
      !In::is_flat && In::height + 2 * Padding >= Kernel && In::width + 2 * Padding >= Kernel;
  template <class In>
  using bind = integer_conv2d_layer<In, Out, Kernel, Bits, Activations, Stride, Padding, Norm, Relu, CodesIn, CodesOut>;
};

}  // namespace nibble::deploy
