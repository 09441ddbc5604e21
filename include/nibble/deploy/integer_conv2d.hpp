#pragma once
// deploy::integer_conv2d<Out, Kernel, Bits, Activations, Stride, Padding, Options...>
//
// Represents: the inference form of a nibble::conv2d whose scheme quantizes
// activations: u8 input codes × s8 weight codes summed in int32
// (integer_matrix.hpp), then the trained epilogue and, with folded_norm,
// the folded batch norm (and with_relu its ReLU).
// codes_in: the layer before hands it u8 codes on its input grid, channels
// last (code_activation), instead of floats it would turn into codes.
// codes_out: it hands the next integer layer codes on that layer's grid
// (output_grid, set by link_code_grids), channels last, instead of floats.
// deploy::convert chooses all four.
//
// The ways to the sums, the same integers on every one:
//   pixel-major  filters in multiples of 32, on AMX or AVX-512 VNNI: a
//             kernel that gives each pixel's sums side by side
//             (kernels/int8/implicit_conv.hpp), finished across channels
//             (finish_pixel), the codes handed on channels last as they
//             come. "Implicit" reads the padded channels-last image in
//             place (codes in, stride 1, channels a multiple of 64);
//             "lowered" lays each pixel's window in a row first (the
//             3-channel first layer, strided or narrow layers);
//   im2col    otherwise (and on the portable path): the image's im2col
//             matrix times the packed weights, finished channel by
//             channel (finish_row).
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
#include "nibble/deploy/options.hpp"
#include "nibble/deploy/rule.hpp"
#include "nibble/deploy/table_row.hpp"
#include "nibble/kernels/int8/implicit_conv.hpp"
#include "nibble/kernels/conv.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble::deploy {

template <class In, std::size_t Out, window Kernel, class Bits, class Activations, std::size_t Stride,
          window Padding, class... Options>
class integer_conv2d_layer
    : public integer_matrix<Bits, Activations, Out, In::channels * Kernel.area(),
                            has_option<folded_norm, Options...>, has_option<with_relu, Options...>> {
  static constexpr bool Norm = has_option<folded_norm, Options...>, Relu = has_option<with_relu, Options...>;
  static constexpr bool CodesIn = has_option<deploy::codes_in, Options...>,
                        CodesOut = has_option<deploy::codes_out, Options...>;

 public:
  using input_shape = In;
  using input_tensor = std::conditional_t<CodesIn, code_activation, activation>;
  using output_tensor = std::conditional_t<CodesOut, code_activation, activation>;
  static constexpr bool codes_in = CodesIn, codes_out = CodesOut;
  static constexpr kernels::conv_geometry geometry{In::channels, In::height,     In::width,    Kernel.height,
                                                   Stride,       Padding.height, Kernel.width, Padding.width};
  using output_shape = shape<Out, geometry.out_height(), geometry.out_width()>;
  static constexpr std::size_t pixels = output_shape::height * output_shape::width;
  static constexpr std::size_t depth = In::channels * Kernel.area();

  static std::string describe() {
    return "conv2d " + std::to_string(Out) + " filters " + std::to_string(Kernel.height) + "x" +
           std::to_string(Kernel.width) + ", stride " + std::to_string(Stride) + ", padding " + Padding.text() + "; " +
           Bits::describe() + " weight codes x " + std::to_string(Activations::width) + "-bit input codes, int32 sums" +
           (Norm ? ", batch norm folded" : "") + (Relu ? ", relu" : "");
  }

  // The grid of the codes handed on (step, zero point, largest code):
  // the next integer layer's input grid. Not part of a model file.
  kernels::code_grid output_grid{0.0f, 0.0f, 0.0f};

  // The pixel-major way (above) and its two inputs; both give sums
  // pixel by pixel, 32 filters at a time.
  static constexpr bool pixel_major = kernels::int8_pixel_major_fits(Out) && geometry.square();
  static constexpr bool implicit_shape = kernels::int8_implicit_fits(geometry, Out, CodesIn);
  static constexpr std::size_t lowered_depth = (depth + 63) / 64 * 64;
  static constexpr kernels::int8::implicit_conv_shape pixel_geometry =
      implicit_shape ? kernels::int8::implicit_conv_shape{In::channels, In::height,     In::width,
                                                          Kernel.height, Padding.height, Out}
                     : kernels::int8::implicit_conv_shape{lowered_depth, output_shape::height, output_shape::width,
                                                          1,             0,                   Out};
  // Positions per call of the kernel: one block of 32, whose sums are
  // finished while in L1 (measured faster than longer ranges on every
  // VGG4bit layer: benchmarks/bench_int8_conv).
  static constexpr std::size_t pixel_range = 32;

  void forward(const input_tensor& x, output_tensor& y, context&) {
    if constexpr (CodesOut) {
      if (!(output_grid.step > 0.0f))
        throw std::logic_error("nibble::deploy: an integer conv2d that hands codes on has no output grid; "
                               "deploy::convert and model file loading set it (deploy::link_code_grids)");
    }
    this->zero_point_sums();  // built before the threads share them
    scratch_.resize(std::size_t(kernels::max_threads()));
    const kernels::int8_conv_plan plan = kernels_plan();
#if NIBBLE_ISA_AVX512_VNNI || NIBBLE_ISA_AMX_INT8
    if constexpr (pixel_major) {
      if (plan.layout != kernels::int8_conv_layout::im2col) {
        forward_pixel_major(x, y, plan.product);
        return;
      }
    }
#endif
    forward_im2col(x, y, plan.product);
  }

  // Which kernels run this layer on this machine (kernels/plan.hpp).
  static kernels::int8_conv_plan kernels_plan() { return kernels::plan_int8_conv(geometry, Out, CodesIn); }
  static std::string kernels_used() { return kernels::describe(kernels_plan()); }

  // Its row of a layer table: codes, input grid, epilogue, batch norm.
  deploy::table_row table_row() const {
    deploy::table_row r = this->integer_row(layer_kind::conv);
    r.kernel = Kernel.height, r.kernel_width = Kernel.width, r.stride = Stride;
    r.pad = Padding.height, r.pad_width = Padding.width;
    return r;
  }

 private:
  struct thread_scratch {
    std::vector<std::uint8_t> codes;      // one image's input codes, channel by channel
    std::vector<std::uint8_t, kernels::aligned_allocator<std::uint8_t>> padded;  // the pixel-major kernel's input
    // row and sums on 64-byte lines: tiles store the sums and vectors read
    // them back, a line each. Left to malloc, where they fell depended on
    // what else the heap held (VGG4bit W4A8, batch 128, AMX: 8,036 images/s
    // aligned, 7,552 before; inference_throughput, median of 3).
    std::vector<float, kernels::aligned_allocator<float>> row;  // one channel's output floats, or a range's
    std::size_t pixel_of[pixel_range];  // the output pixel of each kept position of a range
    std::vector<float> row_floats;        // one channel's output floats
    std::vector<std::uint8_t> row_codes;  // one image's output codes, channel by channel
    kernels::int8::packed_columns columns;
    std::vector<std::int32_t, kernels::aligned_allocator<std::int32_t>> sums;
  };
  std::vector<thread_scratch> scratch_;

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

  void forward_im2col(const input_tensor& x, output_tensor& y, kernels::int8_kernel product) {
    const auto& w = this->packed();
    const std::uint8_t pad = std::uint8_t(this->grid().zero);
    each_image(x.shape(0), [&](std::size_t n, int t, bool) {
      auto& s = scratch_[std::size_t(t)];
      s.codes.resize(In::size);
      write_code_planes<In, CodesIn>(x, n, 0, this->grid(), s.codes.data());
      kernels::int8::pack_columns(depth, pixels, [&](std::size_t k, std::uint8_t* row) {
        im2col_row(s.codes.data(), k, pad, row);
      }, s.columns);
      s.sums.resize(Out * pixels);
      kernels::int8::packed_gemm(w, s.columns, s.sums.data(), pixels, product);
      if constexpr (CodesOut) {
        this->finish_image_codes(s.sums.data(), pixels, output_grid, s.row_floats, s.row_codes,
                                 y.data() + code_index(n, 0, 0));
      } else {
        this->finish_image(s.sums.data(), pixels, pixels, y.data() + n * Out * pixels);
      }
    });
  }

#if NIBBLE_ISA_AVX512_VNNI || NIBBLE_ISA_AMX_INT8
  void forward_pixel_major(const input_tensor& x, output_tensor& y, kernels::int8_kernel product) {
    constexpr auto geo = pixel_geometry;
    static_assert(geo.out_height() == output_shape::height && geo.out_width() == output_shape::width);
    if (pixel_weights_.tiles.empty()) {
      std::vector<std::int8_t> w = this->signed_codes();
      if constexpr (!implicit_shape) {  // each filter's codes, then zeros to the padded depth
        std::vector<std::int8_t> padded(Out * lowered_depth, 0);
        for (std::size_t f = 0; f < Out; ++f)
          std::copy_n(w.data() + f * depth, depth, padded.data() + f * lowered_depth);
        w = std::move(padded);
      }
      kernels::int8::pack_implicit_conv_weights(w.data(), geo, pixel_weights_);
    }
    constexpr std::size_t ranges = (geo.positions() + pixel_range - 1) / pixel_range;
    // Positions [first, last) of image n, with its tile input in `image`.
    const auto range = [&](std::size_t n, const std::uint8_t* image, std::size_t i, thread_scratch& s) {
      const std::size_t first = i * pixel_range, last = std::min(first + pixel_range, geo.positions());
      s.sums.resize(pixel_range * Out);
      s.row.resize(pixel_range * Out);
#if NIBBLE_ISA_AMX_INT8
      if (product == kernels::int8_kernel::amx)
        kernels::int8::implicit_conv_amx(image, pixel_weights_, first, last, s.sums.data());
#endif
#if NIBBLE_ISA_AVX512_VNNI
      if (product == kernels::int8_kernel::vnni)
        kernels::int8::implicit_conv_vnni(image, pixel_weights_, first, last, s.sums.data());
#endif
      std::size_t kept = 0;  // the range's output pixels (not the right padding or the slack)
      for (std::size_t q = first; q < last; ++q) {
        const std::size_t oy = q / geo.padded_width(), ox = q % geo.padded_width();
        if (oy >= output_shape::height || ox >= output_shape::width) continue;
        s.pixel_of[kept] = oy * output_shape::width + ox;
        this->finish_pixel(s.sums.data() + (q - first) * Out, s.row.data() + kept * Out);
        if constexpr (CodesOut)
          kernels::byte_codes(s.row.data() + kept * Out, y.data() + code_index(n, s.pixel_of[kept], 0), Out,
                              output_grid);
        ++kept;
      }
      if constexpr (!CodesOut) {  // channel by channel, so the writes run along the pixels
        float* out = y.data() + float_index(n, 0, 0);
        for (std::size_t r = 0; r < Out; ++r)
          for (std::size_t k = 0; k < kept; ++k) out[r * pixels + s.pixel_of[k]] = s.row[k * Out + r];
      }
    };
    each_image(x.shape(0), [&](std::size_t n, int t, bool shared) {
      auto& s = scratch_[std::size_t(t)];
      s.padded.resize(geo.input_pixels() * geo.channels);
      if constexpr (implicit_shape)
        kernels::int8::pad_image(x.data() + n * In::size, geo, std::uint8_t(this->grid().zero), s.padded.data());
      else
        lower(x, n, s);
      if (!shared) {
        for (std::size_t i = 0; i < ranges; ++i) range(n, s.padded.data(), i, s);
        return;
      }
      kernels::parallel_for(ranges,
                            [&](std::size_t i, int u) { range(n, s.padded.data(), i, scratch_[std::size_t(u)]); });
    });
  }

  // The lowered input of image n in s.padded: row p holds the codes under
  // output pixel p's window in (c, ky, kx) order, the zero point where the
  // window falls on the padding, then zeros to lowered_depth (their
  // weights are zero). The image is framed with the zero point first (in
  // s.codes), so that no window read needs a test.
  void lower(const input_tensor& x, std::size_t n, thread_scratch& s) const {
    constexpr std::size_t K = Kernel.height, P = Padding.height;  // square: pixel_major
    constexpr std::size_t hp = In::height + 2 * P, wp = In::width + 2 * P, c_in = In::channels;
    s.codes.assign(c_in * hp * wp, std::uint8_t(this->grid().zero));
    // code(c, y, x) of the framed image is framed[(c * hp + y) * wp + x]
    std::uint8_t* framed = s.codes.data();
    write_code_planes<In, CodesIn>(x, n, P, this->grid(), framed);
    std::uint8_t* row = s.padded.data();
    for (std::size_t oy = 0; oy < output_shape::height; ++oy)
      for (std::size_t ox = 0; ox < output_shape::width; ++ox, row += lowered_depth) {
        std::uint8_t* k = row;
        for (std::size_t c = 0; c < c_in; ++c)
          for (std::size_t ky = 0; ky < K; ++ky, k += K) {
            const std::uint8_t* from = framed + (c * hp + oy * Stride + ky) * wp + ox * Stride;
            for (std::size_t kx = 0; kx < K; ++kx) k[kx] = from[kx];  // a few bytes: no memmove call
          }
        std::fill(row + depth, row + lowered_depth, std::uint8_t(0));
      }
  }
  kernels::int8::implicit_conv_weights pixel_weights_;
#endif

 public:
  // Row k = (c, ky, kx) of the image's im2col matrix: the input code under
  // tap (ky, kx) of every output pixel, the zero point where it falls on
  // the padding.
  static void im2col_row(const std::uint8_t* image, std::size_t k, std::uint8_t pad, std::uint8_t* row) {
    const std::size_t c = k / Kernel.area(), ky = k / Kernel.width % Kernel.height, kx = k % Kernel.width;
    const std::uint8_t* plane = image + c * In::height * In::width;
    for (std::size_t oy = 0; oy < output_shape::height; ++oy) {
      const long iy = long(oy * Stride + ky) - long(Padding.height);
      std::uint8_t* out = row + oy * output_shape::width;
      if (iy < 0 || iy >= long(In::height)) {
        std::fill(out, out + output_shape::width, pad);
        continue;
      }
      const std::uint8_t* line = plane + std::size_t(iy) * In::width;
      if constexpr (Stride == 1) {  // one run of the input line, padding either side
        const long shift = long(kx) - long(Padding.width);
        const long width = long(output_shape::width);
        const long first = std::min(std::max(0L, -shift), width), last = std::min(width, long(In::width) - shift);
        std::fill(out, out + first, pad);
        if (last > first) std::memcpy(out + first, line + first + shift, std::size_t(last - first));
        std::fill(out + std::max(first, last), out + width, pad);
      } else {
        for (std::size_t ox = 0; ox < output_shape::width; ++ox) {
          const long ix = long(ox * Stride + kx) - long(Padding.width);
          out[ox] = ix < 0 || ix >= long(In::width) ? pad : line[ix];
        }
      }
    }
  }

};

template <std::size_t Out, window Kernel, class Bits, class Activations, std::size_t Stride, window Padding,
          class... Options>
struct integer_conv2d {
  template <class In>
  static constexpr bool accepts =
      !In::is_flat && In::height + 2 * Padding.height >= Kernel.height && In::width + 2 * Padding.width >= Kernel.width;
  template <class In>
  using bind = integer_conv2d_layer<In, Out, Kernel, Bits, Activations, Stride, Padding, Options...>;
  template <class Tag>
  using with = integer_conv2d<Out, Kernel, Bits, Activations, Stride, Padding, Options..., Tag>;
};

// A trained conv2d with quantized inputs, and the batch norm after it if any.
template <std::size_t Out, window K, class S, std::size_t St, window P, class I, class Next>
  requires(S::quantizes_activations)
struct rule<nibble::conv2d<Out, K, S, St, P, I>, Next> : weighted_rule<Next> {
  using spec = add_option_if<
      weighted_rule<Next>::relu,
      add_option_if<weighted_rule<Next>::folds,
                    deploy::integer_conv2d<Out, K, typename S::bit_width, typename S::activations, St, P>, folded_norm>,
      with_relu>;
};

}  // namespace nibble::deploy
