#pragma once
// The sum of a residual block whose layers quantize their input (uniform
// activation codes), made an integer by construction. On the grid of the
// block's input as its first layer quantizes it (step s, zero point z):
//
//   y = s · ((c_x − z) + c_f)     identity shortcut
//   y = s · (c_s + c_f)           projection shortcut
//
// c_x is the input's code; c_f = clamp(round(f / s), ±255) is the
// layers' output f on the same step (c_s the shortcut's output likewise):
// ±255 steps is an 8-bit input's whole range either way (16 times a 4-bit
// one's). So few steps keep the requantizers that make c_f from integer
// sums lines: a float rounding moves a threshold in proportion to |c_f|,
// and exceptions grow with the square of the limit (ResNet-8 W8A8 in C:
// 308 exceptions at ±255, 1,317 at ±511, 13,633 at ±2047; W4A8: 0, 32
// and 816).
// So y = s·n for an integer n, rounded once, and whatever follows (ReLU,
// the next layer's codes) is a function of n alone: a deployed network can
// keep n in integers and requantize it exactly (deploy/requantization.hpp).
// The gradient is straight through, zero where a code saturates.
#include "nibble/core/shape.hpp"
#include "nibble/kernels/activation_codes.hpp"

namespace nibble {

// The largest addend code, and the grid an addend is rounded onto: step s,
// codes within ±addend_limit around it (int16 in the C runtime).
inline constexpr int addend_limit = 255;
inline kernels::code_grid addend_grid(const kernels::code_grid& g) {
  return {g.step, float(addend_limit), float(2 * addend_limit)};
}

class quantized_sum {
 public:
  // y = s · (code(a on ga) − za + code(b on gb) − zb), s = ga.step = gb.step.
  void forward(const activation& a, const kernels::code_grid& ga, const activation& b, const kernels::code_grid& gb,
               activation& y) {
    codes_.resize(y.shape());
    other_.resize(y.shape());
    kernels::centered_codes(a.data(), codes_.data(), y.size(), ga);
    kernels::centered_codes(b.data(), other_.data(), y.size(), gb);
    const float s = ga.step;
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = s * (codes_.data()[i] + other_.data()[i]);
  }
  // d = dy where code(v on g) does not saturate, else 0.
  static void pass_gradient(const activation& v, const kernels::code_grid& g, const activation& dy, activation& d) {
    d = dy;
    kernels::mask_outside_grid(v.data(), d.data(), d.size(), g);
  }

 private:
  activation codes_, other_;
};

}  // namespace nibble
