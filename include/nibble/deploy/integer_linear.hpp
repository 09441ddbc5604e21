#pragma once
// deploy::integer_linear<Out, Bits, Activations, Options...> (folded_norm, with_relu)
//
// Represents: the inference form of a nibble::linear whose scheme quantizes
// activations (integer_matrix.hpp): the batch's input codes are the columns
// of one int8 product.
// Requires: a flat input, as the trained layer.
// Ensures: the trained layer's eval output (after its batch norm and ReLU
// when folded), bit for bit.
#include <cstdint>
#include <string>
#include <vector>

#include "nibble/deploy/integer_matrix.hpp"
#include "nibble/deploy/options.hpp"
#include "nibble/deploy/rule.hpp"
#include "nibble/deploy/table_row.hpp"
#include "nibble/layers/layer.hpp"
#include "nibble/layers/linear.hpp"

namespace nibble::deploy {

template <class In, std::size_t Out, class Bits, class Activations, class... Options>
class integer_linear_layer : public integer_matrix<Bits, Activations, Out, In::size, has_option<folded_norm, Options...>,
                                                   has_option<with_relu, Options...>> {
  static constexpr bool Norm = has_option<folded_norm, Options...>, Relu = has_option<with_relu, Options...>;

 public:
  using input_shape = In;
  using output_shape = shape<Out, 1, 1>;

  static std::string describe() {
    return "linear " + std::to_string(Out) + " outputs; " + Bits::describe() + " weight codes x " +
           std::to_string(Activations::width) + "-bit input codes, int32 sums" + (Norm ? ", batch norm folded" : "") +
           (Relu ? ", relu" : "");
  }

  // Which kernel runs this layer on this machine (kernels/plan.hpp).
  static std::string kernels_used() { return std::string("int8 ") + kernels::name(kernels::plan_int8_product()); }

  // Its row of a layer table: codes, input grid, epilogue, batch norm.
  deploy::table_row table_row() const { return this->integer_row(layer_kind::linear); }

  void forward(const activation& x, activation& y, context&) {
    const std::size_t batch = x.shape(0);
    const auto& w = this->packed();
    codes_.resize(x.size());
    kernels::byte_codes(x.data(), codes_.data(), x.size(), this->grid());
    kernels::int8::pack_columns(In::size, batch, [&](std::size_t k, std::uint8_t* row) {
      for (std::size_t n = 0; n < batch; ++n) row[n] = codes_[n * In::size + k];
    }, columns_);
    sums_.resize(Out * batch);
    kernels::int8::packed_gemm(w, columns_, sums_.data(), batch, kernels::plan_int8_product());
    // Sums are Out × batch; the output is batch × Out.
    this->centred_sums(sums_.data(), batch, batch, y.data(), 1, Out);
    this->finish(batch, 1, y.data());
  }

 private:
  std::vector<std::uint8_t> codes_;
  kernels::int8::packed_columns columns_;
  std::vector<std::int32_t> sums_;
};

template <std::size_t Out, class Bits, class Activations, class... Options>
struct integer_linear {
  template <class In>
  static constexpr bool accepts = In::is_flat;
  template <class In>
  using bind = integer_linear_layer<In, Out, Bits, Activations, Options...>;
  template <class Tag>
  using with = integer_linear<Out, Bits, Activations, Options..., Tag>;
};

// A trained linear with quantized inputs, and the batch norm after it if any.
template <std::size_t Out, class S, class I, class Next>
  requires(S::quantizes_activations)
struct rule<nibble::linear<Out, S, I>, Next> : weighted_rule<Next> {
  using spec = add_option_if<
      weighted_rule<Next>::relu,
      add_option_if<weighted_rule<Next>::folds,
                    deploy::integer_linear<Out, typename S::bit_width, typename S::activations>, folded_norm>,
      with_relu>;
};

}  // namespace nibble::deploy
