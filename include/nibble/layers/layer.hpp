#pragma once
// What a layer is. A layer *spec* is what users write in a network
// (`conv2d<64, 3, paper_4bit>`): it knows which input shapes it accepts and
// binds to one, giving the concrete layer that runs. A bound layer has:
//
//   input_shape, output_shape           compile-time sample shapes
//   parameter_count                     trainable scalars (compile time)
//   forward(x, y, ctx)                  y = f(x); may remember what backward needs
//   backward(x, y, dy, dx, ctx)         given dL/dy, write parameter gradients
//                                       (overwriting) and dL/dx when dx != nullptr
//   visit_parameters(f), visit_buffers(f), init(rng), post_step()
//   describe()                          static: the layer in words, its sizes
//                                       and scheme ("conv2d 64 filters 3x3, ...")
//   input_tensor, output_tensor         optional: the batch types read and
//                                       written (activation when absent;
//                                       deployed integer layers may pass
//                                       code_activation between them)
#include <concepts>
#include <cstddef>
#include <random>
#include <string>

#include "nibble/core/context.hpp"
#include "nibble/core/parameter.hpp"
#include "nibble/core/shape.hpp"

namespace nibble {

template <class L>
concept bound_layer = requires(L& l, const activation& x, activation& y, activation* dx, context& ctx,
                               std::mt19937_64& rng) {
  requires sample_shape<typename L::input_shape>;
  requires sample_shape<typename L::output_shape>;
  { L::parameter_count } -> std::convertible_to<std::size_t>;
  { L::describe() } -> std::convertible_to<std::string>;
  l.forward(x, y, ctx);
  l.backward(x, x, x, dx, ctx);
  l.init(rng);
  l.post_step();
};

template <class S, class In>
concept layer_spec_for = sample_shape<In> && requires {
  { S::template accepts<In> } -> std::convertible_to<bool>;
};

// The batch type a layer reads and the one it writes.
template <class L>
struct tensor_types {
  using input = activation;
  using output = activation;
};
template <class L>
  requires requires { typename L::input_tensor; typename L::output_tensor; }
struct tensor_types<L> {
  using input = typename L::input_tensor;
  using output = typename L::output_tensor;
};
template <class L>
using input_tensor_t = typename tensor_types<L>::input;
template <class L>
using output_tensor_t = typename tensor_types<L>::output;

// Layers without parameters share these empty members.
struct parameter_free {
  static constexpr std::size_t parameter_count = 0;
  template <class F>
  void visit_parameters(F&&) {}
  template <class F>
  void visit_buffers(F&&) {}
  void init(std::mt19937_64&) {}
  void post_step() {}
};

}  // namespace nibble
