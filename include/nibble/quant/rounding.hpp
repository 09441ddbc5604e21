#pragma once
// Rounding policies: how a weight between two levels picks one in training.
// An optional argument of a scheme (after the fourth).
//
//   round_to_nearest      the nearest level (the default)
//   stochastic_rounding   the level above with probability equal to the
//                         distance from the level below, in units of the
//                         step: unbiased, E[q(w)] = w inside the range.
//                         Draws are counter-based (core/counter_random.hpp)
//                         from the run's seed, the step and the layer, so a
//                         run still reproduces bit for bit. Evaluation,
//                         weight statistics and deployment round to nearest.
#include <concepts>
#include <string>

namespace nibble {

template <class T>
concept rounding_policy = requires {
  { T::is_rounding_policy } -> std::convertible_to<bool>;
  { T::stochastic } -> std::convertible_to<bool>;
  { T::describe() } -> std::convertible_to<std::string>;
};

struct round_to_nearest {
  static constexpr bool is_rounding_policy = true;
  static constexpr bool stochastic = false;
  static std::string describe() { return "round to nearest"; }
};

struct stochastic_rounding {
  static constexpr bool is_rounding_policy = true;
  static constexpr bool stochastic = true;
  static std::string describe() { return "stochastic rounding"; }
};

static_assert(rounding_policy<round_to_nearest>);
static_assert(rounding_policy<stochastic_rounding>);

}  // namespace nibble
