#pragma once
// deploy::code_max_pool2d<K>
//
// Represents: max_pool2d<K> between two deployed integer layers, on the u8
// codes the first hands the second (channels last). code_of is monotone, so the largest
// code of a window is the code of its largest float: the result is the
// codes the second layer would have made of the pooled floats.
// Requires: codes of a spatial input whose sides are multiples of K.
// Ensures: codes C × H/K × W/K.
#include <string>

#include "nibble/deploy/table_row.hpp"
#include "nibble/kernels/pool.hpp"
#include "nibble/layers/layer.hpp"

namespace nibble::deploy {

template <class In, std::size_t K>
class code_max_pool2d_layer : public parameter_free {
  static_assert(!In::is_flat && In::height % K == 0 && In::width % K == 0,
                "nibble::deploy: the input height and width must be multiples of the window size.");

 public:
  using input_shape = In;
  using output_shape = shape<In::channels, In::height / K, In::width / K>;
  using input_tensor = code_activation;
  using output_tensor = code_activation;
  static constexpr std::size_t kernel = K;
  // The trained layer's words: a model file describes the network, not how
  // its layers hand values on.
  static std::string describe() { return "max_pool2d " + std::to_string(K) + "x" + std::to_string(K); }

  void forward(const code_activation& x, code_activation& y, context&) {
    kernels::max_pool_pixel_codes<K>(x.shape(0), In::height, In::width, In::channels, x.data(), y.data());
  }

  // The row of the max pool it stands for.
  deploy::table_row table_row() const { return {.kind = layer_kind::maxpool, .kernel = K}; }
};

template <std::size_t K>
struct code_max_pool2d {
  template <class In>
  static constexpr bool accepts = !In::is_flat && In::height % K == 0 && In::width % K == 0;
  template <class In>
  using bind = code_max_pool2d_layer<In, K>;
};

}  // namespace nibble::deploy
