#pragma once
// Clip policies, applied to float master weights after every optimizer step.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include <fmt/core.h>

#include "nibble/kernels/elementwise.hpp"
#include "nibble/quant/concepts.hpp"

namespace nibble {

struct no_clip {
  static constexpr bool is_clip_policy = true;
  static constexpr bool valid = true;
  static constexpr bool active = false;
  static std::string describe() { return "no clip"; }
  static void apply(float*, std::size_t) {}
};

// W <- clamp(W, -C, C).
template <float C>
struct hard_clip {
  static constexpr bool is_clip_policy = true;
  static constexpr bool valid = C > 0.0f;
  static constexpr bool active = true;
  static constexpr float bound = C;
  static std::string describe() { return fmt::format("hard clip {}", C); }
  static void apply(float* w, std::size_t n) { kernels::hard_clip(w, n, C); }
};

// The paper's soft clip W <- C * tanh(W / C): smooth, keeps |W| < C and
// leaves small weights almost untouched, so outliers cannot inflate the
// abs-max scale.
template <float C>
struct tanh_clip {
  static constexpr bool is_clip_policy = true;
  static constexpr bool valid = C > 0.0f;
  static constexpr bool active = true;
  static constexpr float bound = C;
  static std::string describe() { return fmt::format("tanh clip {}", C); }
  // In float, tanh reaches exactly 1 for large arguments; the kernel clamps
  // to the float below C to keep the promise |W| < C.
  static void apply(float* w, std::size_t n) { kernels::tanh_clip(w, n, C); }
};

static_assert(clip_policy<no_clip>);
static_assert(clip_policy<hard_clip<1.0f>>);
static_assert(clip_policy<tanh_clip<3.0f>>);

}  // namespace nibble
