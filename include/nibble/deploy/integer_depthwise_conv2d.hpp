#pragma once
// deploy::integer_depthwise_conv2d<Kernel, Bits, Activations, Stride, Padding, Options...>
//
// Represents: the inference form of a nibble::depthwise_conv2d whose scheme
// quantizes activations: each channel's u8 input codes against its own
// Kernel×Kernel s8 weight codes, summed in int32
// (kernels/int8/depthwise_sums.hpp), then the trained epilogue and, with
// folded_norm, the folded batch norm (and with_relu its ReLU), as
// integer_conv2d.hpp does; codes_in and codes_out as there.
// Requires: the input shape the trained layer had.
// Ensures: the trained layer's eval output (after its batch norm and ReLU
// when folded), bit for bit: the trained layer's sums are the same
// integers (K² terms, exact in fp32), and the epilogue is the same
// operations on them; with CodesOut, the codes the next layer would make.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "nibble/deploy/integer_matrix.hpp"
#include "nibble/deploy/options.hpp"
#include "nibble/deploy/rule.hpp"
#include "nibble/deploy/table_row.hpp"
#include "nibble/kernels/int8/depthwise_sums.hpp"
#include "nibble/kernels/parallel.hpp"
#include "nibble/layers/depthwise_conv2d.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble::deploy {

template <class In, std::size_t Kernel, class Bits, class Activations, std::size_t Stride, std::size_t Padding,
          class... Options>
class integer_depthwise_conv2d_layer
    : public integer_matrix<Bits, Activations, In::channels, Kernel * Kernel, has_option<folded_norm, Options...>,
                            has_option<with_relu, Options...>> {
  static constexpr bool Norm = has_option<folded_norm, Options...>, Relu = has_option<with_relu, Options...>;
  static constexpr bool CodesIn = has_option<deploy::codes_in, Options...>,
                        CodesOut = has_option<deploy::codes_out, Options...>;
  static constexpr std::size_t C = In::channels;

 public:
  using input_shape = In;
  using input_tensor = std::conditional_t<CodesIn, code_activation, activation>;
  using output_tensor = std::conditional_t<CodesOut, code_activation, activation>;
  static constexpr bool codes_in = CodesIn, codes_out = CodesOut;
  static constexpr kernels::conv_geometry geometry{C, In::height, In::width, Kernel, Stride, Padding};
  using output_shape = shape<C, geometry.out_height(), geometry.out_width()>;
  static constexpr std::size_t pixels = output_shape::height * output_shape::width;

  static std::string describe() {
    return "depthwise conv2d " + std::to_string(Kernel) + "x" + std::to_string(Kernel) + ", stride " +
           std::to_string(Stride) + ", padding " + std::to_string(Padding) + "; " + Bits::describe() +
           " weight codes x " + std::to_string(Activations::width) + "-bit input codes, int32 sums" +
           (Norm ? ", batch norm folded" : "") + (Relu ? ", relu" : "");
  }
  static std::string kernels_used() { return "depthwise loops (int32)"; }

  // The grid of the codes handed on: the next integer layer's input grid
  // (deploy::link_code_grids). Not part of a model file.
  kernels::code_grid output_grid{0.0f, 0.0f, 0.0f};

  void forward(const input_tensor& x, output_tensor& y, context&) {
    if constexpr (CodesOut) {
      if (!(output_grid.step > 0.0f))
        throw std::logic_error("nibble::deploy: an integer depthwise conv2d that hands codes on has no output grid; "
                               "deploy::convert and model file loading set it (deploy::link_code_grids)");
    }
    this->zero_point_sums();  // built before the threads share them
    const std::vector<std::int8_t>& w = weights();
    constexpr std::size_t hp = In::height + 2 * Padding, wp = In::width + 2 * Padding;
    scratch_.resize(std::size_t(kernels::max_threads()));
    kernels::parallel_for(x.shape(0), [&](std::size_t n, int t) {
      thread_scratch& s = scratch_[std::size_t(t)];
      // Planes framed by the padding, filled with the zero point: every tap reads a code.
      s.planes.assign(C * hp * wp, std::uint8_t(this->grid().zero));
      write_code_planes<In, CodesIn>(x, n, Padding, this->grid(), s.planes.data());
      s.sums.resize(C * pixels);
      for (std::size_t c = 0; c < C; ++c)
        kernels::int8::depthwise_sums(geometry, s.planes.data() + c * hp * wp, w.data() + c * Kernel * Kernel,
                                      s.sums.data() + c * pixels);
      if constexpr (CodesOut)
        this->finish_image_codes(s.sums.data(), pixels, output_grid, s.row_floats, s.row_codes,
                                 y.data() + n * C * pixels);
      else
        this->finish_image(s.sums.data(), pixels, pixels, y.data() + n * C * pixels);
    });
  }

  // Its row of a layer table: codes, input grid, epilogue, batch norm.
  deploy::table_row table_row() const {
    deploy::table_row r = this->integer_row(layer_kind::depthwise);
    r.kernel = Kernel, r.stride = Stride, r.pad = Padding;
    return r;
  }

 private:
  struct thread_scratch {
    std::vector<std::uint8_t> planes;  // one image's framed input codes, channel by channel
    std::vector<std::int32_t> sums;    // its sums, channel by channel
    std::vector<float> row_floats;
    std::vector<std::uint8_t> row_codes;
  };
  std::vector<thread_scratch> scratch_;
  std::vector<std::int8_t> weights_;

  // The codes as s8, filter by filter, made on the first forward (after
  // conversion or loading has set them).
  const std::vector<std::int8_t>& weights() {
    if (weights_.empty()) weights_ = this->signed_codes();
    return weights_;
  }
};

template <std::size_t Kernel, class Bits, class Activations, std::size_t Stride, std::size_t Padding, class... Options>
struct integer_depthwise_conv2d {
  template <class In>
  static constexpr bool accepts =
      !In::is_flat && In::height + 2 * Padding >= Kernel && In::width + 2 * Padding >= Kernel;
  template <class In>
  using bind = integer_depthwise_conv2d_layer<In, Kernel, Bits, Activations, Stride, Padding, Options...>;
  template <class Tag>
  using with = integer_depthwise_conv2d<Kernel, Bits, Activations, Stride, Padding, Options..., Tag>;
};

// A trained depthwise_conv2d with quantized inputs, and the batch norm after it if any.
template <std::size_t K, class S, std::size_t St, std::size_t P, class I, class Next>
  requires(S::quantizes_activations)
struct rule<nibble::depthwise_conv2d<K, S, St, P, I>, Next> : weighted_rule<Next> {
  using spec = add_option_if<
      weighted_rule<Next>::relu,
      add_option_if<weighted_rule<Next>::folds,
                    deploy::integer_depthwise_conv2d<K, typename S::bit_width, typename S::activations, St, P>,
                    folded_norm>,
      with_relu>;
};

}  // namespace nibble::deploy
