#pragma once
// deploy::integer_conv2d<Out, Kernel, Bits, Activations, Stride, Padding, Norm, Relu, CodesIn, CodesOut>
//
// Represents: the inference form of a nibble::conv2d whose scheme quantizes
// activations: u8 input codes × s8 weight codes summed in int32
// (integer_matrix.hpp), then the trained epilogue and folded batch norm.
// CodesIn: the layer before hands it u8 codes on its input grid, channels
// last (code_activation), instead of floats it would turn into codes.
// CodesOut: it hands the next integer layer codes on that layer's grid
// (output_grid, set by link_code_grids), channels last, instead of floats.
// deploy::convert chooses both.
//
// Two ways to the sums, the same integers:
//   implicit  codes in, stride 1, channels a multiple of 64, filters of 32,
//             on AMX: the padded channels-last image is read in place
//             (kernels/int8/implicit_conv.hpp) and each pixel's sums are
//             finished across channels (finish_pixel);
//   im2col    otherwise: the image's im2col matrix times the packed
//             weights, finished channel by channel (finish_row).
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

#include "nibble/config.hpp"
#include "nibble/deploy/integer_matrix.hpp"
#include "nibble/kernels/int8/implicit_conv.hpp"
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

  // Whether this layer suits the implicit convolution (which also needs AMX).
  static constexpr bool implicit_shape = CodesIn && Stride == 1 && In::channels % 64 == 0 && Out % 32 == 0;

  void forward(const input_tensor& x, output_tensor& y, context&) {
    if constexpr (CodesOut) {
      if (!(output_grid.step > 0.0f))
        throw std::logic_error("nibble::deploy: an integer conv2d that hands codes on has no output grid; "
                               "deploy::convert and model file loading set it (deploy::link_code_grids)");
    }
    this->zero_point_sums();  // built before the threads share them
    scratch_.resize(std::size_t(kernels::max_threads()));
#if NIBBLE_ISA_AMX_INT8
    if constexpr (implicit_shape) {
      if (kernels::int8::best_int8_path() == kernels::int8::int8_path::amx) {
        forward_implicit(x, y);
        return;
      }
    }
#endif
    forward_im2col(x, y);
  }

 private:
  // Where output pixel p (of `pixels`, channel r) of image n goes.
  static std::size_t code_index(std::size_t n, std::size_t p, std::size_t r) { return (n * pixels + p) * Out + r; }
  static std::size_t float_index(std::size_t n, std::size_t p, std::size_t r) { return (n * Out + r) * pixels + p; }

  // Threads take whole images or, when there are fewer images than
  // threads, share each image's work.
  template <class Image>
  static void each_image(std::size_t batch, Image&& image) {
    if (batch >= std::size_t(kernels::max_threads())) {
      kernels::parallel_for(batch, [&](std::size_t n, int t) { image(n, t, false); });
    } else {
      for (std::size_t n = 0; n < batch; ++n) image(n, 0, true);
    }
  }

  void forward_im2col(const input_tensor& x, output_tensor& y) {
    const auto& w = this->packed();
    const kernels::code_grid g = this->grid();
    const std::uint8_t pad = std::uint8_t(g.zero);
    each_image(x.shape(0), [&](std::size_t n, int t, bool) {
      auto& s = scratch_[std::size_t(t)];
      s.codes.resize(In::size);  // the image's codes, channel by channel
      if constexpr (CodesIn) {
        const std::uint8_t* pixel = x.data() + n * In::size;
        constexpr std::size_t plane = In::height * In::width;
        for (std::size_t p = 0; p < plane; ++p, pixel += In::channels)
          for (std::size_t c = 0; c < In::channels; ++c) s.codes[c * plane + p] = pixel[c];
      } else {
        kernels::byte_codes(x.data() + n * In::size, s.codes.data(), In::size, g);
      }
      kernels::int8::pack_columns(depth, pixels, [&](std::size_t k, std::uint8_t* row) {
        im2col_row(s.codes.data(), k, pad, row);
      }, s.columns);
      s.sums.resize(Out * pixels);
      kernels::int8::packed_gemm(w, s.columns, s.sums.data(), pixels);
      if constexpr (CodesOut) {
        // Channel by channel, so each channel's floats stay in L1 on their
        // way to codes; then the codes go to their pixels, 16 pixels at a
        // time, so that both sides of the transpose stay in cache.
        s.row.resize(pixels);
        s.row_codes.resize(Out * pixels);
        for (std::size_t r = 0; r < Out; ++r) {
          this->finish_row(r, s.sums.data() + r * pixels, pixels, s.row.data());
          kernels::byte_codes(s.row.data(), s.row_codes.data() + r * pixels, pixels, output_grid);
        }
        for (std::size_t p0 = 0; p0 < pixels; p0 += 16)
          for (std::size_t r = 0; r < Out; ++r)
            for (std::size_t p = p0; p < std::min(p0 + 16, pixels); ++p)
              y.data()[code_index(n, p, r)] = s.row_codes[r * pixels + p];
      } else {
        this->finish_image(s.sums.data(), pixels, pixels, y.data() + n * Out * pixels);
      }
    });
  }

#if NIBBLE_ISA_AMX_INT8
  static constexpr kernels::int8::implicit_conv_shape implicit_geometry{In::channels, In::height, In::width,
                                                                        Kernel,      Padding,    Out};
  // Positions per call of the kernel: one block of 32, whose sums are
  // finished while in L1 (measured faster than longer ranges on every
  // VGG4bit layer: benchmarks/bench_int8_conv).
  static constexpr std::size_t implicit_range = 32;

  void forward_implicit(const input_tensor& x, output_tensor& y) {
    constexpr auto geo = implicit_geometry;
    static_assert(geo.out_height() == output_shape::height && geo.out_width() == output_shape::width);
    if (implicit_weights_.tiles.empty())
      kernels::int8::pack_implicit_conv_weights(this->signed_codes().data(), geo, implicit_weights_);
    const std::uint8_t pad = std::uint8_t(this->grid().zero);
    constexpr std::size_t ranges = (geo.positions() + implicit_range - 1) / implicit_range;
    // Positions [first, last) of image n, with the padded image in `image`.
    const auto range = [&](std::size_t n, const std::uint8_t* image, std::size_t i, thread_scratch& s) {
      const std::size_t first = i * implicit_range, last = std::min(first + implicit_range, geo.positions());
      s.sums.resize(implicit_range * Out);
      s.row.resize(Out);
      kernels::int8::implicit_conv_amx(image, implicit_weights_, first, last, s.sums.data());
      for (std::size_t q = first; q < last; ++q) {
        const std::size_t oy = q / geo.padded_width(), ox = q % geo.padded_width();
        if (oy >= output_shape::height || ox >= output_shape::width) continue;  // the right padding, the slack
        const std::size_t p = oy * output_shape::width + ox;
        this->finish_pixel(s.sums.data() + (q - first) * Out, s.row.data());
        if constexpr (CodesOut) {
          kernels::byte_codes(s.row.data(), y.data() + code_index(n, p, 0), Out, output_grid);
        } else {
          for (std::size_t r = 0; r < Out; ++r) y.data()[float_index(n, p, r)] = s.row[r];
        }
      }
    };
    each_image(x.shape(0), [&](std::size_t n, int t, bool shared) {
      auto& s = scratch_[std::size_t(t)];
      s.padded.resize(geo.input_pixels() * In::channels);
      kernels::int8::pad_image(x.data() + n * In::size, geo, pad, s.padded.data());
      if (!shared) {
        for (std::size_t i = 0; i < ranges; ++i) range(n, s.padded.data(), i, s);
        return;
      }
      kernels::parallel_for(ranges, [&](std::size_t i, int u) { range(n, s.padded.data(), i, scratch_[std::size_t(u)]); });
    });
  }
  kernels::int8::implicit_conv_weights implicit_weights_;
#endif

 public:
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

 private:
  struct thread_scratch {
    std::vector<std::uint8_t> codes;      // one image's input codes, channel by channel
    std::vector<std::uint8_t, kernels::aligned_allocator<std::uint8_t>> padded;  // padded, channels last
    std::vector<float> row;               // one channel's or one pixel's output floats
    std::vector<std::uint8_t> row_codes;  // one image's output codes, channel by channel
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
