#pragma once
// residual<Spec...> — Represents: y = x + f(x), where f is the chain of
// Specs bound to the block's input shape.
// Requires: f's output shape equals its input shape.
// Ensures: output shape = input shape; dL/dx = dL/dy + f'(x)ᵀ·dL/dy.
#include "nibble/net/sequential.hpp"

namespace nibble {

template <class In, class... Specs>
class residual_layer {
 public:
  using body_type = sequential<In, Specs...>;

 private:
  static_assert(std::is_same_v<typename body_type::output_shape, In>,
                "nibble::residual: the block's layers must produce the same shape as its input, so that "
                "the input can be added to their output.");

 public:
  using input_shape = In;
  using output_shape = In;
  static constexpr std::size_t parameter_count = body_type::parameter_count;
  static std::string describe() { return "residual block (its input added to its output)"; }

  void init(std::mt19937_64& rng) { body_.init(rng); }
  void forward(const activation& x, activation& y, context& ctx) {
    const activation& fx = body_.forward(x, ctx);
    for (std::size_t i = 0; i < x.size(); ++i) y.data()[i] = x.data()[i] + fx.data()[i];
  }
  void backward(const activation&, const activation&, const activation& dy, activation* dx, context& ctx) {
    if (!dx) {
      body_.backward(dy, nullptr, ctx);
      return;
    }
    body_.backward(dy, dx, ctx);
    for (std::size_t i = 0; i < dy.size(); ++i) dx->data()[i] += dy.data()[i];
  }
  template <class F>
  void visit_parameters(F&& f) {
    body_.visit_parameters(f);
  }
  template <class F>
  void visit_buffers(F&& f) {
    body_.visit_buffers(f);
  }
  template <class F>
  void visit_layers(F&& f) {
    body_.visit_layers(f);
  }
  void post_step() { body_.post_step(); }
  body_type& body() { return body_; }
  const body_type& body() const { return body_; }

 private:
  body_type body_;
};

template <class... Specs>
struct residual {
  template <class In>
  static constexpr bool accepts = [] {
    if constexpr (is_valid_network<In, Specs...>)
      return std::is_same_v<typename sequential<In, Specs...>::output_shape, In>;
    else
      return false;
  }();
  template <class In>
  using bind = residual_layer<In, Specs...>;
};

}  // namespace nibble
