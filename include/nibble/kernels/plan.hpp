#pragma once
// Which kernel runs an operation, decided here alone: one plan per family,
// from the operation's geometry, its arithmetic and the machine (what this
// build compiled and the CPU grants, within the limits a user sets). The
// layers ask the plan and nothing else; summary(net) and the trainers print
// it; the tests run every kernel a plan could pick on this machine.
//
//   convolution (training; fp32 or bf16 products)
//     direct        a register-blocked convolution over padded images
//                   (direct_conv.hpp, direct_weight_gradient.hpp): 16-float
//                   vectors, stride 1, output rows that fit its tiles
//     direct_tiles  the same on AMX tiles (bf16 products; channels and
//                   filters multiples of 32)
//     im2col_gemm   the packed GEMM over im2col columns (everything else)
//     gemm_col2im   input gradient of a strided convolution: Wᵀ·dy, col2im
//   int8 products (deployed integer layers; the same sums on every one)
//     amx, vnni, portable
//
// The limits: NIBBLE_BF16_KERNEL=avx512 keeps bf16 convolutions off the
// tiles; NIBBLE_INT8_KERNEL=vnni|portable caps the int8 products; both are
// read when a plan is first asked for, and set_kernel_limits replaces them
// (tests, comparisons). A limit never picks a kernel the machine lacks.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nibble/config.hpp"
#include "nibble/kernels/amx.hpp"
#include "nibble/kernels/bf16.hpp"
#include "nibble/kernels/im2col.hpp"
#include "nibble/kernels/simd.hpp"

namespace nibble::kernels {

enum class conv_kernel { direct, direct_tiles, im2col_gemm, gemm_col2im };
enum class int8_kernel { amx, vnni, portable };  // fastest first
enum class int8_conv_layout { implicit, lowered, im2col };

inline const char* name(conv_kernel k) {
  switch (k) {
    case conv_kernel::direct: return "direct";
    case conv_kernel::direct_tiles: return "direct on AMX tiles";
    case conv_kernel::im2col_gemm: return "im2col + GEMM";
    default: return "GEMM + col2im";
  }
}
inline const char* name(int8_conv_layout l) {
  switch (l) {
    case int8_conv_layout::implicit: return "implicit";
    case int8_conv_layout::lowered: return "lowered";
    default: return "im2col";
  }
}
inline const char* name(int8_kernel k) {
  switch (k) {
    case int8_kernel::amx: return "amx";
    case int8_kernel::vnni: return "vnni";
    default: return "portable";
  }
}

// The direct kernels load an 8-pixel output row as two halves of a vector.
inline constexpr bool direct_conv_splits_rows = NIBBLE_ISA_AVX512BW_DQ;

// What the kernels of this build can use on this machine.
struct machine_features {
  bool wide_floats = false;  // 16-float vectors: the direct convolution kernels
  bool bf16_tiles = false;   // AMX-BF16, granted by the operating system
  bool int8_tiles = false;   // AMX-INT8, granted by the operating system
  bool vnni = false;         // AVX-512 VNNI
};
inline const machine_features& detected_features() {
  static const machine_features f{.wide_floats = fvec_width == 16,
                                  .bf16_tiles = NIBBLE_ISA_AMX_BF16 && amx_usable(),
                                  .int8_tiles = NIBBLE_ISA_AMX_INT8 && amx_usable(),
                                  .vnni = NIBBLE_ISA_AVX512_VNNI};
  return f;
}

// Slower kernels a user or a test asks for.
struct kernel_limits {
  bool bf16_tiles = true;                     // false: bf16 convolutions stay off the AMX tiles
  int8_kernel fastest_int8 = int8_kernel::amx;  // no faster int8 product than this
  bool direct_conv = true;                    // false: every convolution by im2col + GEMM

  static kernel_limits from_environment() {
    kernel_limits l;
    if (const char* b = std::getenv("NIBBLE_BF16_KERNEL"); b && std::strcmp(b, "avx512") == 0) l.bf16_tiles = false;
    if (const char* i = std::getenv("NIBBLE_INT8_KERNEL"))
      for (int8_kernel k : {int8_kernel::amx, int8_kernel::vnni, int8_kernel::portable})
        if (std::strcmp(i, name(k)) == 0) l.fastest_int8 = k;
    return l;
  }
};

namespace detail {
inline kernel_limits& limits_in_force() {
  static kernel_limits l = kernel_limits::from_environment();
  return l;
}
}  // namespace detail

// The limits plans follow. Set them while no kernel runs (they are not
// synchronised with the kernels' threads).
inline const kernel_limits& current_kernel_limits() { return detail::limits_in_force(); }
inline void set_kernel_limits(const kernel_limits& l) { detail::limits_in_force() = l; }

// The machine as plans see it: the features within the limits.
struct machine {
  bool direct_conv, bf16_tiles, int8_tiles, vnni;
};
inline machine current_machine() {
  const machine_features& f = detected_features();
  const kernel_limits& l = current_kernel_limits();
  return {.direct_conv = f.wide_floats && l.direct_conv,
          .bf16_tiles = f.bf16_tiles && l.bf16_tiles,
          .int8_tiles = f.int8_tiles && l.fastest_int8 == int8_kernel::amx,
          .vnni = f.vnni && l.fastest_int8 != int8_kernel::portable};
}

// ---- convolution (training) ----

// The geometry the direct forward kernel computes (any machine with 16-float vectors).
constexpr bool direct_conv_fits(const conv_geometry& g) {
  return g.square() && g.stride == 1 && (g.out_width() % 16 == 0 || (g.out_width() == 8 && direct_conv_splits_rows)) &&
         g.col_cols() % 32 == 0 && g.kernel * g.kernel <= 49;
}
// The direct weight gradient: thinner inputs (a first layer's 3 channels)
// have too few rows to be worth it.
constexpr bool direct_weight_gradient_fits(const conv_geometry& g) {
  return g.square() && g.stride == 1 && g.channels >= 16;
}
// The AMX tiles take 32 channels and 32 filters at a time.
constexpr bool tiles_fit(const conv_geometry& g, std::size_t out_channels) {
  return g.square() && g.channels % 32 == 0 && out_channels % 32 == 0 && g.kernel <= 7;
}

// The input gradient of a stride-1 convolution is a convolution of dy with
// the flipped weights (conv.hpp), whose geometry this is.
constexpr conv_geometry input_gradient_geometry(const conv_geometry& g, std::size_t out_channels) {
  return {out_channels, g.out_height(), g.out_width(), g.kernel,      1, g.kernel - 1 - g.padding,
          g.kernel_width, g.kernel_width - 1 - g.padding_width};
}
constexpr bool input_gradient_is_convolution(const conv_geometry& g) {
  return g.stride == 1 && g.kernel >= g.padding + 1 && g.kernel_width >= g.padding_width + 1;
}

struct conv_plan {
  conv_kernel forward, input_gradient, weight_gradient;
};

inline conv_kernel plan_conv_forward(const conv_geometry& g, std::size_t out_channels, bool bf16,
                                     const machine& m = current_machine()) {
  if (!m.direct_conv || !direct_conv_fits(g)) return conv_kernel::im2col_gemm;
  return bf16 && bf16_available && m.bf16_tiles && tiles_fit(g, out_channels) ? conv_kernel::direct_tiles
                                                                               : conv_kernel::direct;
}

inline conv_plan plan_conv(const conv_geometry& g, std::size_t out_channels, bool bf16,
                           const machine& m = current_machine()) {
  conv_plan p;
  p.forward = plan_conv_forward(g, out_channels, bf16, m);
  p.input_gradient = input_gradient_is_convolution(g)
                         ? plan_conv_forward(input_gradient_geometry(g, out_channels), g.channels, bf16, m)
                         : conv_kernel::gemm_col2im;
  p.weight_gradient = !m.direct_conv || !direct_weight_gradient_fits(g) ? conv_kernel::im2col_gemm
                      : bf16 && bf16_available && m.bf16_tiles && g.channels % 32 == 0 && out_channels % 32 == 0
                          ? conv_kernel::direct_tiles
                          : conv_kernel::direct;
  return p;
}

// Every forward kernel this machine could run for the geometry (tests).
inline std::vector<conv_kernel> conv_forward_kernels(const conv_geometry& g, std::size_t out_channels, bool bf16) {
  std::vector<conv_kernel> ks{conv_kernel::im2col_gemm};
  const machine_features& f = detected_features();
  if (f.wide_floats && direct_conv_fits(g)) {
    ks.push_back(conv_kernel::direct);
    if (bf16 && bf16_available && f.bf16_tiles && tiles_fit(g, out_channels)) ks.push_back(conv_kernel::direct_tiles);
  }
  return ks;
}
// Every weight-gradient kernel this machine could run for the geometry (tests).
inline std::vector<conv_kernel> conv_weight_gradient_kernels(const conv_geometry& g, std::size_t out_channels,
                                                             bool bf16) {
  std::vector<conv_kernel> ks{conv_kernel::im2col_gemm};
  const machine_features& f = detected_features();
  if (f.wide_floats && direct_weight_gradient_fits(g)) {
    ks.push_back(conv_kernel::direct);
    if (bf16 && bf16_available && f.bf16_tiles && g.channels % 32 == 0 && out_channels % 32 == 0)
      ks.push_back(conv_kernel::direct_tiles);
  }
  return ks;
}

inline std::string describe(const conv_plan& p) {
  return std::string("forward ") + name(p.forward) + ", input gradient " + name(p.input_gradient) +
         ", weight gradient " + name(p.weight_gradient);
}

// ---- int8 products (deployed integer layers) ----

inline int8_kernel plan_int8_product(const machine& m = current_machine()) {
  return m.int8_tiles ? int8_kernel::amx : m.vnni ? int8_kernel::vnni : int8_kernel::portable;
}

// Every int8 product this machine can run, fastest first (tests).
inline std::vector<int8_kernel> int8_products() {
  const machine_features& f = detected_features();
  std::vector<int8_kernel> ks;
  if (f.int8_tiles) ks.push_back(int8_kernel::amx);
  if (f.vnni) ks.push_back(int8_kernel::vnni);
  ks.push_back(int8_kernel::portable);
  return ks;
}

// An integer convolution's sums come pixel by pixel (kernels/int8/
// implicit_conv.hpp) for filters in multiples of 32 on AMX or VNNI: read
// in place from channels-last codes ("implicit": codes handed in, stride 1,
// channels a multiple of 64) or from each pixel's window laid in a row
// first ("lowered"); otherwise channel by channel from the im2col matrix.
constexpr bool int8_pixel_major_fits(std::size_t filters) { return filters % 32 == 0; }
constexpr bool int8_implicit_fits(const conv_geometry& g, std::size_t filters, bool codes_in) {
  return int8_pixel_major_fits(filters) && codes_in && g.square() && g.stride == 1 && g.channels % 64 == 0;
}

struct int8_conv_plan {
  int8_kernel product;
  int8_conv_layout layout;
};
inline int8_conv_plan plan_int8_conv(const conv_geometry& g, std::size_t filters, bool codes_in,
                                     const machine& m = current_machine()) {
  const int8_kernel k = plan_int8_product(m);
  if (k == int8_kernel::portable || !int8_pixel_major_fits(filters) || !g.square())
    return {k, int8_conv_layout::im2col};
  return {k, int8_implicit_fits(g, filters, codes_in) ? int8_conv_layout::implicit : int8_conv_layout::lowered};
}
inline std::string describe(const int8_conv_plan& p) {
  return std::string("int8 ") + name(p.product) + ", " + name(p.layout);
}

// What this machine's plans choose from, in a line (the trainers print it).
inline std::string describe_machine(const machine& m = current_machine()) {
  return std::string("kernels: convolutions ") + (m.direct_conv ? "direct where they fit" : "by im2col + GEMM") +
         (m.bf16_tiles ? ", bf16 on AMX tiles where they fit" : "") + "; int8 products " +
         name(plan_int8_product(m));
}

}  // namespace nibble::kernels
