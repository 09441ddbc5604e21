#pragma once
// sequential<input<C, H, W>, Spec...> — a network as a type.
//
// Each Spec is bound to the output shape of the one before it at compile
// time; the bound layers live in a boost::hana::tuple, and forward, backward
// and the parameter visits are folds over it, so nothing is looked up or
// dispatched at run time. A spec that cannot take its input shape stops the
// build with a message naming its position, itself, the shape and its own
// reason (layer_cannot_take_its_input).
#include <array>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/hana/at.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/tuple.hpp>

#include "nibble/layers/layer.hpp"

namespace nibble {

namespace detail {

// Stands in for a layer that failed its check, so that the one error message
// is not followed by a cascade of unrelated ones.
template <class In>
struct invalid_layer : parameter_free {
  using input_shape = In;
  using output_shape = In;
  static std::string describe() { return "invalid layer"; }
  void forward(const activation&, activation&, context&) {}
  void backward(const activation&, const activation&, const activation&, activation*, context&) {}
};

template <class Spec, class In>
consteval bool spec_accepts() {
  if constexpr (layer_spec_for<Spec, In>)
    return Spec::template accepts<In>;
  else
    return false;
}

// The layer's own checks of its input, which give the reason it cannot
// take it: deriving from the bound layer instantiates it, static_asserts
// and all (nothing, for a type that is not a layer spec).
template <class Spec, class In, bool IsSpec = layer_spec_for<Spec, In>>
struct layer_reason {};
template <class Spec, class In>
struct layer_reason<Spec, In, true> : Spec::template bind<In> {};

// Instantiated only for a layer that cannot take its input. Its name and
// arguments are in the compiler's first lines about the error ("In
// instantiation of ... layer_cannot_take_its_input<3, linear<10, ...>,
// shape<8, 8, 8>>"): the position as a number, the layer and the shape;
// the layer's own reason comes with them, then this sentence.
template <std::size_t Position, class Spec, class InputShape>
struct layer_cannot_take_its_input : layer_reason<Spec, InputShape> {
  static_assert(Position != Position,
                "nibble::sequential: a layer cannot take its input; in layer_cannot_take_its_input<position, "
                "layer, input shape> of this error are its position (counting from 0 after the input), the layer "
                "and the shape the layer before it gives.");
  static constexpr bool reason_given = true;
};

struct layer_takes_its_input {
  static constexpr bool reason_given = false;
};

template <std::size_t Position, class Spec, class In>
struct check_layer {
  static constexpr bool ok = spec_accepts<Spec, In>();
  // Instantiates the complaint only for a layer that is not ok.
  static_assert(std::conditional_t<ok, layer_takes_its_input,
                                   layer_cannot_take_its_input<Position, Spec, In>>::reason_given ||
                true);
};

template <bool Ok, class Spec, class In>
struct bind_if {
  using type = typename Spec::template bind<In>;
};
template <class Spec, class In>
struct bind_if<false, Spec, In> {
  using type = invalid_layer<In>;
};

template <std::size_t Index, class In, class... Specs>
struct bind_chain {
  using output = In;
  template <class... Done>
  using tuple = boost::hana::tuple<Done...>;
};
template <std::size_t Index, class In, class Spec, class... Rest>
struct bind_chain<Index, In, Spec, Rest...> {
  using layer = typename bind_if<check_layer<Index, Spec, In>::ok, Spec, In>::type;
  using next = bind_chain<Index + 1, typename layer::output_shape, Rest...>;
  using output = typename next::output;
  template <class... Done>
  using tuple = typename next::template tuple<Done..., layer>;
};

template <class In, class... Specs>
struct chain_valid : std::true_type {};
template <class In, class Spec, class... Rest>
struct chain_valid<In, Spec, Rest...> {
  static consteval bool check() {
    if constexpr (spec_accepts<Spec, In>())
      return chain_valid<typename Spec::template bind<In>::output_shape, Rest...>::value;
    else
      return false;
  }
  static constexpr bool value = check();
};

// The output batches of bound layers L..., and whether each layer reads
// what the one before it writes, ending with floats. The network reads
// what its first layer reads: floats, or (a deployed network that takes
// the image's bytes) u8 samples.
template <class Tuple>
struct tensor_chain;
template <class L0, class... L>
struct tensor_chain<boost::hana::tuple<L0, L...>> {
  using input = input_tensor_t<L0>;
  using outputs = boost::hana::tuple<output_tensor_t<L0>, output_tensor_t<L>...>;
  // What each layer is handed: the network's input, then every output.
  using handed = std::tuple<input, output_tensor_t<L0>, output_tensor_t<L>...>;
  static constexpr bool valid = [] {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return (std::is_same_v<input_tensor_t<L>, std::tuple_element_t<I + 1, handed>> && ...);
    }(std::index_sequence_for<L...>{}) && std::is_same_v<std::tuple_element_t<sizeof...(L) + 1, handed>, activation>;
  }();
};

}  // namespace detail

// True when sequential<In, Specs...> would compile: every spec accepts the
// shape the one before it produces. For tests and for users' own checks.
template <class In, class... Specs>
inline constexpr bool is_valid_network = sample_shape<In> && detail::chain_valid<In, Specs...>::value;

template <class In, class... Specs>
class sequential {
  static_assert(sample_shape<In>,
                "nibble::sequential: the first argument must be the input shape, e.g. input<3, 32, 32>.");
  static_assert(sizeof...(Specs) > 0, "nibble::sequential: a network needs at least one layer.");
  using chain = detail::bind_chain<0, In, Specs...>;
  using tuple_type = typename chain::template tuple<>;
  static_assert(detail::tensor_chain<tuple_type>::valid,
                "nibble::sequential: each layer must read the batch type the layer before it writes (floats, or "
                "the u8 codes deployed integer layers pass on), and the network must write floats.");

 public:
  using input_shape = In;
  using input_tensor = typename detail::tensor_chain<tuple_type>::input;  // floats, unless the first layer reads bytes
  using output_shape = typename chain::output;
  static constexpr std::size_t size = sizeof...(Specs);

 private:
  template <std::size_t... I>
  static constexpr std::size_t count_parameters(std::index_sequence<I...>) {
    return (std::size_t{0} + ... +
            std::remove_reference_t<decltype(boost::hana::at_c<I>(std::declval<tuple_type&>()))>::parameter_count);
  }

 public:
  static constexpr std::size_t parameter_count = count_parameters(std::make_index_sequence<size>{});

  template <std::size_t I>
  auto& layer() {
    return boost::hana::at_c<I>(layers_);
  }
  template <std::size_t I>
  const auto& layer() const {
    return boost::hana::at_c<I>(layers_);
  }

  // f.template operator()<Layer>(position) for every bound layer type in
  // order, without an object: positions count from 0 and descend into
  // blocks ("3", then "3.0", "3.1" inside it).
  template <class F>
  static void for_each_layer_type(F&& f, const std::string& prefix = "") {
    for_each_index([&]<std::size_t I>() {
      using L = std::remove_cvref_t<decltype(boost::hana::at_c<I>(std::declval<tuple_type&>()))>;
      const std::string position = prefix + std::to_string(I);
      f.template operator()<L>(position);
      if constexpr (requires { typename L::body_type; }) L::body_type::for_each_layer_type(f, position + ".");
      // A residual block's projection shortcut: "2.s0", "2.s1", ...
      if constexpr (requires { typename L::shortcut_type; }) L::shortcut_type::for_each_layer_type(f, position + ".s");
    });
  }

  void init(std::mt19937_64& rng) {
    boost::hana::for_each(layers_, [&](auto& l) { l.init(rng); });
  }

  // Runs every layer; keeps the activations that backward needs. Returns
  // the output, which stays valid until the next forward.
  // A batch of another sample shape is refused (std::invalid_argument,
  // both shapes in the message) rather than read out of bounds.
  const activation& forward(const input_tensor& x, context& ctx) {
    if (x.shape(1) != In::channels || x.shape(2) != In::height || x.shape(3) != In::width)
      throw std::invalid_argument("nibble::sequential: the network takes batches of shape (N, " +
                                  std::to_string(In::channels) + ", " + std::to_string(In::height) + ", " +
                                  std::to_string(In::width) + "), but was given (" + std::to_string(x.shape(0)) +
                                  ", " + std::to_string(x.shape(1)) + ", " + std::to_string(x.shape(2)) + ", " +
                                  std::to_string(x.shape(3)) + ")");
    input_ = &x;
    for_each_index([&]<std::size_t I>() { forward_at<I>(ctx); });
    return boost::hana::at_c<size - 1>(outputs_);
  }

  // Given dL/d(output) of the last forward, writes every parameter gradient
  // and, when dx is not null, dL/d(input).
  void backward(const activation& dy, activation* dx, context& ctx) {
    for_each_index_reversed([&]<std::size_t I>() { backward_at<I>(dy, dx, ctx); });
  }

  const activation& output() const { return boost::hana::at_c<size - 1>(outputs_); }

  template <class F>
  void visit_parameters(F&& f) {
    boost::hana::for_each(layers_, [&](auto& l) { l.visit_parameters(f); });
  }
  template <class F>
  void visit_buffers(F&& f) {
    boost::hana::for_each(layers_, [&](auto& l) { l.visit_buffers(f); });
  }
  // f(layer) for every layer, descending into nested blocks.
  template <class F>
  void visit_layers(F&& f) {
    boost::hana::for_each(layers_, [&](auto& l) {
      if constexpr (requires { l.visit_layers(f); }) l.visit_layers(f);
      f(l);
    });
  }
  void post_step() {
    boost::hana::for_each(layers_, [&](auto& l) { l.post_step(); });
  }

 private:
  template <class F>
  static void for_each_index(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) { (f.template operator()<I>(), ...); }
    (std::make_index_sequence<size>{});
  }
  template <class F>
  static void for_each_index_reversed(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) { (f.template operator()<size - 1 - I>(), ...); }
    (std::make_index_sequence<size>{});
  }

  template <std::size_t I>
  const auto& input_of() const {
    if constexpr (I == 0)
      return *input_;
    else
      return boost::hana::at_c<I - 1>(outputs_);
  }

  template <std::size_t I>
  void forward_at(context& ctx) {
    auto& l = layer<I>();
    using L = std::remove_reference_t<decltype(l)>;
    const auto& x = input_of<I>();
    auto& y = boost::hana::at_c<I>(outputs_);
    ensure_batch_shape<typename L::output_shape>(y, x.shape(0));
    l.forward(x, y, ctx);
  }

  template <std::size_t I>
  void backward_at(const activation& dy, activation* dx, context& ctx) {
    auto& l = layer<I>();
    using L = std::remove_reference_t<decltype(l)>;
    const activation& dout = I + 1 == size ? dy : gradients_[I];
    activation* din = dx;
    if constexpr (I > 0) {
      acquire_gradient<typename L::input_shape>(gradients_[I - 1], dout.shape(0));
      din = &gradients_[I - 1];
    }
    l.backward(input_of<I>(), boost::hana::at_c<I>(outputs_), dout, din, ctx);
    if constexpr (I + 1 < size) spare_gradients_.push_back(std::move(gradients_[I]));
  }

  // A gradient is dead once the layer below has consumed it, so backward
  // recycles gradient buffers: it takes a spare of the right shape (there is
  // one from the previous step in steady state) instead of keeping a buffer
  // per layer. Peak memory holds a few gradients, not one per layer.
  template <class Shape>
  void acquire_gradient(activation& t, std::size_t batch) {
    // First choice: exactly this shape. Second: this sample shape with
    // another batch size (the last batch of an epoch), resized, so spares do
    // not pile up when the batch size changes.
    for (int pass = 0; pass < 2; ++pass)
      for (auto& spare : spare_gradients_)
        if (spare.shape(1) == Shape::channels && spare.shape(2) == Shape::height && spare.shape(3) == Shape::width &&
            (pass == 1 || spare.shape(0) == batch)) {
          std::swap(t, spare);
          std::swap(spare, spare_gradients_.back());
          spare_gradients_.pop_back();
          ensure_batch_shape<Shape>(t, batch);
          return;
        }
    ensure_batch_shape<Shape>(t, batch);
  }

  tuple_type layers_;
  const input_tensor* input_ = nullptr;
  typename detail::tensor_chain<tuple_type>::outputs outputs_;
  std::array<activation, size> gradients_;  // gradients_[i] = dL/d outputs_[i], while it is live
  std::vector<activation> spare_gradients_ = [] {
    std::vector<activation> v;
    v.reserve(size);
    return v;
  }();
};

template <class T>
struct is_sequential : std::false_type {};
template <class In, class... Specs>
struct is_sequential<sequential<In, Specs...>> : std::true_type {};

}  // namespace nibble
