#pragma once
// deploy::integer_linear<Out, Bits, Activations, Norm, Relu>
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
#include "nibble/layers/layer.hpp"

namespace nibble::deploy {

template <class In, std::size_t Out, class Bits, class Activations, bool Norm, bool Relu>
class integer_linear_layer : public integer_matrix<Bits, Activations, Out, In::size, Norm, Relu> {
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

template <std::size_t Out, class Bits, class Activations, bool Norm, bool Relu>
struct integer_linear {
  template <class In>
  static constexpr bool accepts = In::is_flat;
  template <class In>
  using bind = integer_linear_layer<In, Out, Bits, Activations, Norm, Relu>;
};

}  // namespace nibble::deploy
