// The pieces the catalogue (catalogue.hpp) is written with, and the flat
// list of its variants: one trained network type per (network, classes,
// scheme, arithmetic), each with what it can be deployed to.
#pragma once
#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <nibble/quant/presets.hpp>

namespace nibble::tools {

// A string literal as a template argument.
template <std::size_t N>
struct text {
  char chars[N]{};
  constexpr text(const char (&s)[N]) { std::copy_n(s, N, chars); }
  constexpr std::string_view view() const { return {chars, N - 1}; }
};

template <class... T>
struct list {};

template <class... L>
struct concat_lists;
template <class... A>
struct concat_lists<list<A...>> {
  using type = list<A...>;
};
template <class... A, class... B, class... Rest>
struct concat_lists<list<A...>, list<B...>, Rest...> : concat_lists<list<A..., B...>, Rest...> {};
template <class... L>
using concat = typename concat_lists<L...>::type;

template <std::size_t... N>
struct classes {};

// What a user asks for on the command line.
struct choice {
  std::string_view network;  // --model
  std::string_view scheme;   // --scheme
  int bits = 4;              // --bits
  int activations = 32;      // --activations
  bool bf16 = false;         // --arithmetic bf16
  std::size_t classes = 10;  // the dataset's
};

// A scheme of the catalogue. NoDeploy says why a network with it cannot
// be deployed ("" if it can); NoCHeader why it has no C header.
template <text Flag, int WeightBits, int ActivationBits, class Scheme, text Help, text NoDeploy = "",
          text NoCHeader = "">
struct scheme_choice {
  static constexpr std::string_view flag = Flag.view(), help = Help.view();
  static constexpr int bits = WeightBits, activations = ActivationBits;
  using type = Scheme;
  static constexpr std::string_view no_deploy = NoDeploy.view(), no_c_header = NoCHeader.view();
};

// Schemes built for each number of classes in Classes.
template <class Classes, class... SchemeLists>
struct built_for {
  using class_counts = Classes;
  using schemes = concat<list<>, SchemeLists...>;
};

// A network of the catalogue: its --model name, label and words for the
// help, the template, what it is built for (a list of built_for), and why
// it cannot deploy or have a C header ("" if it can).
template <text Flag, text Label, text Help, template <std::size_t, quant_scheme> class Net, class Builds,
          text NoDeploy = "", text NoCHeader = "">
struct network_choice {
  static constexpr std::string_view flag = Flag.view(), label = Label.view(), help = Help.view();
  template <std::size_t N, class S>
  using type = Net<N, S>;
  using builds = Builds;
  static constexpr std::string_view no_deploy = NoDeploy.view(), no_c_header = NoCHeader.view();
};

// One trained network type of the catalogue.
template <class Network, std::size_t Classes, class Scheme, bool Bf16>
struct variant {
  using network = Network;
  using scheme = Scheme;
  static constexpr std::size_t classes = Classes;
  static constexpr bool bf16 = Bf16;
  using trained = typename Network::template type<
      Classes, std::conditional_t<Bf16, with_arithmetic_t<typename Scheme::type, bf16_arithmetic>,
                                  typename Scheme::type>>;
  // Why it cannot be deployed or have a C header ("" if it can).
  static constexpr std::string_view no_deploy =
      !Network::no_deploy.empty() ? Network::no_deploy : Scheme::no_deploy;
  static constexpr std::string_view no_c_header =
      !no_deploy.empty() ? no_deploy : !Network::no_c_header.empty() ? Network::no_c_header : Scheme::no_c_header;
  static constexpr bool deploys = no_deploy.empty(), has_c_header = no_c_header.empty();

  static constexpr bool matches(const choice& c) {
    return c.network == Network::flag && c.scheme == Scheme::flag && c.bits == Scheme::bits &&
           c.activations == Scheme::activations && c.bf16 == Bf16 && c.classes == Classes;
  }
  // The command-line flags that pick it.
  static std::string flags() {
    return std::string("--model ") + std::string(Network::flag) + " --scheme " + std::string(Scheme::flag) +
           " --bits " + std::to_string(Scheme::bits) + " --activations " + std::to_string(Scheme::activations) +
           " --arithmetic " + (Bf16 ? "bf16" : "fp32") + " (" + std::to_string(Classes) + " classes)";
  }
};

namespace detail {
template <class Network, std::size_t Classes, class Scheme>
using both_arithmetics = list<variant<Network, Classes, Scheme, false>, variant<Network, Classes, Scheme, true>>;

template <class Network, class Classes, class Schemes>
struct variants_for;
template <class Network, std::size_t... N, class... S>
struct variants_for<Network, classes<N...>, list<S...>> {
  template <std::size_t C>
  using for_classes = concat<list<>, both_arithmetics<Network, C, S>...>;
  using type = concat<list<>, for_classes<N>...>;
};

template <class Network, class Builds>
struct network_variants;
template <class Network, class... B>
struct network_variants<Network, list<B...>> {
  using type = concat<list<>, typename variants_for<Network, typename B::class_counts, typename B::schemes>::type...>;
};

template <class Catalogue>
struct all_variants;
template <class... Network>
struct all_variants<list<Network...>> {
  using type = concat<list<>, typename network_variants<Network, typename Network::builds>::type...>;
};
}  // namespace detail

// Every variant of a catalogue, in catalogue order.
template <class Catalogue>
using variants_of = typename detail::all_variants<Catalogue>::type;

template <class List>
struct list_size;
template <class... T>
struct list_size<list<T...>> : std::integral_constant<std::size_t, sizeof...(T)> {};

template <std::size_t I, class List>
struct list_at;
template <std::size_t I, class... T>
struct list_at<I, list<T...>> {
  using type = std::tuple_element_t<I, std::tuple<T...>>;
};

// Calls f.template operator()<I, Variant>() for each variant, in order.
template <class List, class F>
constexpr void for_each_variant(F&& f) {
  [&]<class... V, std::size_t... I>(list<V...>*, std::index_sequence<I...>) {
    (f.template operator()<I, V>(), ...);
  }(static_cast<List*>(nullptr), std::make_index_sequence<list_size<List>::value>{});
}

}  // namespace nibble::tools
