#pragma once
// From a trained network to its deployed form, as types and as values.
//
//   using Trained  = vgg4bit<10, paper_4bit>;
//   using Deployed = deploy::deployed_t<Trained>;   // a sequential of inference layers
//   auto d = deploy::convert(trained, data::cifar_normalisation());
//
// The deployed network is a sequential that takes the image's bytes
// (image_input, holding the normalisation training fed the images with),
// followed by specs derived from the trained one's, spec by spec:
//
//   conv2d / linear followed by batch_norm(_relu)  ->  deploy::conv2d / linear, BN (and ReLU) folded
//   conv2d / linear otherwise                      ->  deploy::conv2d / linear
//   depthwise_conv2d (with or without a BN)        ->  deploy::depthwise_conv2d, the same way
//   (a scheme that quantizes activations gives integer_conv2d / integer_linear /
//    integer_depthwise_conv2d, which take u8 input codes × weight codes into int32 sums)
//   batch_norm(_relu) with nothing to fold into    ->  deploy::channel_affine
//   dropout                                        ->  (gone: the identity in eval)
//   residual<Specs...>                             ->  residual<deployed Specs...>
//   residual<projection<S...>, Specs...>           ->  the same, its shortcut S... deployed too
//   relu, max_pool2d, flatten, global_avg_pool     ->  themselves
//   (max_pool2d between two integer conv2d         ->  deploy::code_max_pool2d:
//    the first hands the second u8 codes on the second's grid, pooled as codes;
//    so does image_input to a first integer conv2d)
//
// Each deployed layer's header holds the rule that makes it from trained
// layers (deploy/rule.hpp); this file walks a network with them, and keeps
// the rules of what has no deployed layer of its own (dropout, residual
// blocks, layers not deployable yet) and of the codes handed between
// integer layers.
// Deployed layers hold codes and epilogues, no master weights, and have no
// backward. The conversion reads the trained layers only; training can go on.
#include <cstddef>
#include <memory>
#include <type_traits>

#include "nibble/deploy/channel_affine.hpp"
#include "nibble/deploy/code_max_pool2d.hpp"
#include "nibble/deploy/conv2d.hpp"
#include "nibble/deploy/depthwise_conv2d.hpp"
#include "nibble/deploy/image_input.hpp"
#include "nibble/deploy/integer_conv2d.hpp"
#include "nibble/deploy/integer_depthwise_conv2d.hpp"
#include "nibble/deploy/integer_linear.hpp"
#include "nibble/deploy/link_code_grids.hpp"
#include "nibble/deploy/linear.hpp"
#include "nibble/deploy/rule.hpp"
#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/dropout.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/layers/max_pool2d.hpp"
#include "nibble/layers/patch_whitening.hpp"
#include "nibble/net/residual.hpp"
#include "nibble/net/sequential.hpp"

namespace nibble::deploy {

namespace detail {

template <class... T>
struct type_list {};

template <class... T>
struct first {
  using type = void;
};
template <class T, class... Rest>
struct first<T, Rest...> {
  using type = T;
};

// type_list without its first N elements (N is 0 or 1 here).
template <std::size_t N, class List>
struct drop {
  using type = List;
};
template <class T, class... Rest>
struct drop<1, type_list<T, Rest...>> {
  using type = type_list<Rest...>;
};

template <class T, class List>
struct prepend;
template <class T, class... Ts>
struct prepend<T, type_list<Ts...>> {
  using type = type_list<T, Ts...>;
};
template <class... Ts>
struct prepend<void, type_list<Ts...>> {  // a dropped layer
  using type = type_list<Ts...>;
};

template <class... T>
inline constexpr bool not_deployable_yet = false;

// Codes between integer layers. An integer conv2d (or depthwise conv2d)
// whose next weighted layer, past nothing but max pooling, is an integer
// conv2d too hands it u8 codes instead of floats, and the pools between
// them pool codes.

template <class Spec>
struct is_integer_conv : std::false_type {};
template <std::size_t Out, window K, class S, std::size_t St, window P, class I>
struct is_integer_conv<nibble::conv2d<Out, K, S, St, P, I>> : std::bool_constant<S::quantizes_activations> {};
template <std::size_t K, class S, std::size_t St, std::size_t P, class I>
struct is_integer_conv<nibble::depthwise_conv2d<K, S, St, P, I>> : std::bool_constant<S::quantizes_activations> {};

// Whether the trained specs in List, from their start, reach an integer
// conv2d through max pools only.
template <class List>
struct reaches_integer_conv : std::false_type {};
template <std::size_t K, class... Rest>
struct reaches_integer_conv<type_list<nibble::max_pool2d<K>, Rest...>> : reaches_integer_conv<type_list<Rest...>> {};
template <class S, class... Rest>
struct reaches_integer_conv<type_list<S, Rest...>> : is_integer_conv<S> {};

// The deployed spec D with codes coming in (In) and going out (Out).
template <class D, bool In, bool Out>
struct with_codes {
  static_assert(!In && !Out, "nibble::deploy: only integer conv2d layers and max pools pass codes.");
  using type = D;
};
template <std::size_t O, window K, class B, class A, std::size_t S, window P, class... Options, bool In, bool Out>
struct with_codes<deploy::integer_conv2d<O, K, B, A, S, P, Options...>, In, Out> {
  using type = add_option_if<Out, add_option_if<In, deploy::integer_conv2d<O, K, B, A, S, P, Options...>, codes_in>,
                             codes_out>;
};
template <std::size_t K, class B, class A, std::size_t S, std::size_t P, class... Options, bool In, bool Out>
struct with_codes<deploy::integer_depthwise_conv2d<K, B, A, S, P, Options...>, In, Out> {
  using type =
      add_option_if<Out, add_option_if<In, deploy::integer_depthwise_conv2d<K, B, A, S, P, Options...>, codes_in>,
                    codes_out>;
};
template <std::size_t K, bool Out>
struct with_codes<nibble::max_pool2d<K>, true, Out> {
  using type = deploy::code_max_pool2d<K>;
};

template <class List, bool Codes = false>
struct deployed_specs;
template <bool Codes>
struct deployed_specs<type_list<>, Codes> {
  static_assert(!Codes);
  using type = type_list<>;
};
template <class S, class... Rest, bool Codes>
struct deployed_specs<type_list<S, Rest...>, Codes> {
  using r = rule<S, typename first<Rest...>::type>;
  using rest = typename drop<r::consumes - 1, type_list<Rest...>>::type;
  static constexpr bool integer_conv = is_integer_conv<S>::value;
  static constexpr bool codes_out = integer_conv && reaches_integer_conv<rest>::value;
  using spec = typename with_codes<typename r::spec, Codes, codes_out>::type;
  // Codes flow on out of an integer conv that hands them on, and through pools.
  static constexpr bool codes_after = codes_out || (Codes && !integer_conv);
  using type = typename prepend<spec, typename deployed_specs<rest, codes_after>::type>::type;
};

template <class In, class List>
struct sequential_of;
template <class In, class... Specs>
struct sequential_of<In, type_list<Specs...>> {
  using type = sequential<In, Specs...>;
};

// Fills deployed layer J (and on) from trained layer I (and on).
template <std::size_t I, std::size_t J, class List>
struct fill_chain {
  template <class T, class D>
  static void run(const T&, D&) {}
};
template <std::size_t I, std::size_t J, class S, class... Rest>
struct fill_chain<I, J, type_list<S, Rest...>> {
  using r = rule<S, typename first<Rest...>::type>;
  static constexpr bool kept = !std::is_void_v<typename r::spec>;
  template <class T, class D>
  static void run(const T& trained, D& deployed) {
    if constexpr (kept && r::consumes == 2)
      r::fill(deployed.template layer<J>(), trained.template layer<I>(), trained.template layer<I + 1>());
    else if constexpr (kept)
      r::fill(deployed.template layer<J>(), trained.template layer<I>());
    fill_chain<I + r::consumes, J + (kept ? 1 : 0),
               typename drop<r::consumes - 1, type_list<Rest...>>::type>::run(trained, deployed);
  }
};

}  // namespace detail

// The rules of trained layers with no deployed layer of their own.
// Not deployable yet: a parameter-free rule would keep their training
// layers without their values.
template <std::size_t K, class S, class Next>
struct rule<nibble::patch_whitening<K, S>, Next> {
  static_assert(detail::not_deployable_yet<S, Next>, "nibble::deploy::convert: patch_whitening has no deployed form yet.");
};
template <class Next>
struct rule<nibble::shift_batch_norm, Next> {
  static_assert(detail::not_deployable_yet<Next>, "nibble::deploy::convert: shift_batch_norm has no deployed form yet.");
};

template <float P, class Next>
struct rule<nibble::dropout<P>, Next> {
  using spec = void;
  static constexpr std::size_t consumes = 1;
};

template <class... Body, class Next>
struct rule<nibble::residual<Body...>, Next> {
  template <class List>
  struct residual_of;
  template <class... Specs>
  struct residual_of<detail::type_list<Specs...>> {
    using type = nibble::residual<Specs...>;
  };
  using spec = typename residual_of<typename detail::deployed_specs<detail::type_list<Body...>>::type>::type;
  static constexpr std::size_t consumes = 1;
  template <class D, class T>
  static void fill(D& d, const T& trained) {
    detail::fill_chain<0, 0, detail::type_list<Body...>>::run(trained.body(), d.body());
  }
};

template <class... Shortcut, class... Body, class Next>
struct rule<nibble::residual<nibble::projection<Shortcut...>, Body...>, Next> {
  template <class S, class B>
  struct residual_of;
  template <class... S, class... B>
  struct residual_of<detail::type_list<S...>, detail::type_list<B...>> {
    using type = nibble::residual<nibble::projection<S...>, B...>;
  };
  using spec = typename residual_of<typename detail::deployed_specs<detail::type_list<Shortcut...>>::type,
                                    typename detail::deployed_specs<detail::type_list<Body...>>::type>::type;
  static constexpr std::size_t consumes = 1;
  template <class D, class T>
  static void fill(D& d, const T& trained) {
    detail::fill_chain<0, 0, detail::type_list<Shortcut...>>::run(trained.shortcut(), d.shortcut());
    detail::fill_chain<0, 0, detail::type_list<Body...>>::run(trained.body(), d.body());
  }
};

namespace detail {

template <class Net>
struct deployed_network {
  static_assert(is_sequential<Net>::value, "nibble::deploy: only a sequential network can be deployed.");
};
template <class In, class... Specs>
struct deployed_network<sequential<In, Specs...>> {
  // The image input hands codes to a first integer conv2d (through pools).
  static constexpr bool codes_in = reaches_integer_conv<type_list<Specs...>>::value;
  using body = typename deployed_specs<type_list<Specs...>, codes_in>::type;
  using type =
      typename sequential_of<In, typename prepend<add_option_if<codes_in, image_input<>, deploy::codes_out>,
                                                  body>::type>::type;
  template <class D>
  static void fill(const sequential<In, Specs...>& trained, const data::normalisation& norm, D& deployed) {
    deployed.template layer<0>().set_normalisation(norm);
    fill_chain<0, 1, type_list<Specs...>>::run(trained, deployed);
  }
};

}  // namespace detail

// The deployed type of a trained sequential network.
template <class Net>
using deployed_t = typename detail::deployed_network<Net>::type;

// The deployed form of `trained`: its weight codes as the trained forward
// pass computes them, with scales, biases and batch norms folded, taking
// the image's bytes normalised with `norm` (the normalisation training fed
// it with; one mean and std per input channel, else std::invalid_argument).
// Heap allocated: a network type holds its activations inline.
template <class Net>
std::unique_ptr<deployed_t<Net>> convert(const Net& trained, const data::normalisation& norm) {
  auto deployed = std::make_unique<deployed_t<Net>>();
  detail::deployed_network<Net>::fill(trained, norm, *deployed);
  link_code_grids(*deployed);
  return deployed;
}

}  // namespace nibble::deploy
