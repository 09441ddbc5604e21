#pragma once
// residual<Spec...> — Represents: y = x + f(x), where f is the chain of
// Specs bound to the block's input shape.
// Requires: f's output shape equals its input shape.
// Ensures: output shape = input shape; dL/dx = dL/dy + f'(x)ᵀ·dL/dy.
//
// residual<projection<Shortcut...>, Spec...> — Represents: y = s(x) + f(x),
// the shortcut s a chain of its own (He et al.'s option B: a strided 1×1
// convolution and batch norm), so that a block may change its channels and
// size.
// Requires: s and f give the same output shape.
// Ensures: output shape = f's; dL/dx = s'(x)ᵀ·dL/dy + f'(x)ᵀ·dL/dy.
//
// When the block's first layer quantizes its input (uniform activation
// codes), the sum is quantized_sum's (quant/quantized_sum.hpp): both terms
// on the step of that input's grid, so that y is that step times an
// integer and a deployed network keeps the sum in integers, bit for bit;
// the gradient is straight through, zero where a term's code saturates.
#include <concepts>

#include "nibble/net/sequential.hpp"
#include "nibble/quant/quantized_sum.hpp"

namespace nibble {

namespace detail {
// Whether a chain's first layer quantizes its input onto a uniform grid (a
// trained layer's input quantizer, a deployed integer layer's own grid).
template <class Chain>
concept quantized_stream = requires(const Chain& c) {
  { c.template layer<0>().grid() } -> std::same_as<kernels::code_grid>;
};
}  // namespace detail

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

  static constexpr bool quantized = detail::quantized_stream<body_type>;

  void init(std::mt19937_64& rng) { body_.init(rng); }
  void forward(const activation& x, activation& y, context& ctx) {
    const activation& fx = body_.forward(x, ctx);
    if constexpr (quantized) {
      grid_ = body_.template layer<0>().grid();  // after the body's forward: this batch's grid
      fx_ = &fx;
      sum_.forward(x, grid_, fx, addend_grid(grid_), y);
    } else {
      for (std::size_t i = 0; i < x.size(); ++i) y.data()[i] = x.data()[i] + fx.data()[i];
    }
  }
  void backward(const activation& x, const activation&, const activation& dy, activation* dx, context& ctx) {
    const activation* body_dy = &dy;
    if constexpr (quantized) {
      quantized_sum::pass_gradient(*fx_, addend_grid(grid_), dy, body_dy_);
      body_dy = &body_dy_;
    }
    if (!dx) {
      body_.backward(*body_dy, nullptr, ctx);
      return;
    }
    body_.backward(*body_dy, dx, ctx);
    const activation* skip_dy = &dy;
    if constexpr (quantized) {
      quantized_sum::pass_gradient(x, grid_, dy, skip_dy_);
      skip_dy = &skip_dy_;
    }
    for (std::size_t i = 0; i < dy.size(); ++i) dx->data()[i] += skip_dy->data()[i];
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
  // The quantized sum's: the grid of the last forward, the body's output, and the gradients passed on.
  kernels::code_grid grid_{1.0f, 0.0f, 255.0f};
  const activation* fx_ = nullptr;
  quantized_sum sum_;
  activation body_dy_, skip_dy_;
};

// The shortcut of a residual block that is not the identity: its first spec.
template <class... Specs>
struct projection {};

template <class In, class... Shortcut, class... Specs>
class residual_layer<In, projection<Shortcut...>, Specs...> {
 public:
  using body_type = sequential<In, Specs...>;
  using shortcut_type = sequential<In, Shortcut...>;

 private:
  static_assert(std::is_same_v<typename body_type::output_shape, typename shortcut_type::output_shape>,
                "nibble::residual: the block's shortcut (its projection) and its layers must produce the same "
                "shape, so that their outputs can be added.");

 public:
  using input_shape = In;
  using output_shape = typename body_type::output_shape;
  static constexpr std::size_t parameter_count = body_type::parameter_count + shortcut_type::parameter_count;
  static std::string describe() { return "residual block (its shortcut's output added to its output)"; }

  static constexpr bool quantized = detail::quantized_stream<body_type>;

  void init(std::mt19937_64& rng) {
    body_.init(rng);
    shortcut_.init(rng);
  }
  void forward(const activation& x, activation& y, context& ctx) {
    const activation& fx = body_.forward(x, ctx);
    const activation& sx = shortcut_.forward(x, ctx);
    if constexpr (quantized) {
      grid_ = addend_grid(body_.template layer<0>().grid());
      fx_ = &fx;
      sx_ = &sx;
      sum_.forward(sx, grid_, fx, grid_, y);
    } else {
      for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = sx.data()[i] + fx.data()[i];
    }
  }
  void backward(const activation&, const activation&, const activation& dy, activation* dx, context& ctx) {
    const activation *body_dy = &dy, *shortcut_dy = &dy;
    if constexpr (quantized) {
      quantized_sum::pass_gradient(*fx_, grid_, dy, body_dy_);
      quantized_sum::pass_gradient(*sx_, grid_, dy, shortcut_dy_);
      body_dy = &body_dy_;
      shortcut_dy = &shortcut_dy_;
    }
    if (!dx) {
      body_.backward(*body_dy, nullptr, ctx);
      shortcut_.backward(*shortcut_dy, nullptr, ctx);
      return;
    }
    body_.backward(*body_dy, dx, ctx);
    shortcut_dx_.resize(dx->shape());
    shortcut_.backward(*shortcut_dy, &shortcut_dx_, ctx);
    for (std::size_t i = 0; i < dx->size(); ++i) dx->data()[i] += shortcut_dx_.data()[i];
  }
  template <class F>
  void visit_parameters(F&& f) {
    body_.visit_parameters(f);
    shortcut_.visit_parameters(f);
  }
  template <class F>
  void visit_buffers(F&& f) {
    body_.visit_buffers(f);
    shortcut_.visit_buffers(f);
  }
  template <class F>
  void visit_layers(F&& f) {
    body_.visit_layers(f);
    shortcut_.visit_layers(f);
  }
  void post_step() {
    body_.post_step();
    shortcut_.post_step();
  }
  body_type& body() { return body_; }
  const body_type& body() const { return body_; }
  shortcut_type& shortcut() { return shortcut_; }
  const shortcut_type& shortcut() const { return shortcut_; }

 private:
  body_type body_;
  shortcut_type shortcut_;
  activation shortcut_dx_;
  // The quantized sum's: the addends' grid of the last forward, the chains' outputs, and the gradients passed on.
  kernels::code_grid grid_ = addend_grid({1.0f, 0.0f, 255.0f});
  const activation *fx_ = nullptr, *sx_ = nullptr;
  quantized_sum sum_;
  activation body_dy_, shortcut_dy_;
};

namespace detail {
template <class In, class... Specs>
consteval bool residual_accepts() {
  if constexpr (is_valid_network<In, Specs...>)
    return std::is_same_v<typename sequential<In, Specs...>::output_shape, In>;
  else
    return false;
}
template <class In, class Projection, class... Specs>
struct projected_residual_accepts;
template <class In, class... Shortcut, class... Specs>
struct projected_residual_accepts<In, projection<Shortcut...>, Specs...> {
  static consteval bool check() {
    if constexpr (is_valid_network<In, Specs...> && is_valid_network<In, Shortcut...>)
      return std::is_same_v<typename sequential<In, Specs...>::output_shape,
                            typename sequential<In, Shortcut...>::output_shape>;
    else
      return false;
  }
};
}  // namespace detail

template <class... Specs>
struct residual {
  template <class In>
  static constexpr bool accepts = detail::residual_accepts<In, Specs...>();
  template <class In>
  using bind = residual_layer<In, Specs...>;
};
template <class... Shortcut, class... Specs>
struct residual<projection<Shortcut...>, Specs...> {
  template <class In>
  static constexpr bool accepts =
      detail::projected_residual_accepts<In, projection<Shortcut...>, Specs...>::check();
  template <class In>
  using bind = residual_layer<In, projection<Shortcut...>, Specs...>;
};

}  // namespace nibble
