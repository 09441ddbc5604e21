// The kernel plans (kernels/plan.hpp): every convolution kernel this
// machine can run, for each geometry, gives the convolution itself (on
// small integer operands every sum is exact, so all agree bit for bit);
// the plan follows the limits a test sets; layers and summary report it.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "nibble/kernels/conv.hpp"
#include "nibble/kernels/plan.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/net/summary.hpp"
#include "nibble/quant/presets.hpp"
#include "convolution_reference.hpp"
#include "training_fixtures.hpp"

using namespace nibble;
using kernels::conv_geometry;
using kernels::conv_kernel;

namespace {

struct conv_case {
  conv_geometry g;
  std::size_t filters;
};

using fixtures::convolve;

std::vector<float> small_integers(std::size_t n, int largest, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-largest, largest);
  std::vector<float> v(n);
  for (auto& e : v) e = float(d(rng));
  return v;
}

template <bool Bf16>
void check_every_kernel(const conv_case& c) {
  const conv_geometry& g = c.g;
  const std::size_t batch = 2;
  std::mt19937 rng(unsigned(g.channels * 31 + g.width + g.stride));
  const auto x = small_integers(batch * g.channels * g.height * g.width, 3, rng);
  const auto w = small_integers(c.filters * g.col_rows(), 7, rng);
  const auto bias = small_integers(c.filters, 7, rng);
  const auto dy = small_integers(batch * c.filters * g.col_cols(), 3, rng);
  const fixtures::reference want = convolve(g, c.filters, batch, x, w, bias, dy);

  const auto forward_kernels = kernels::conv_forward_kernels(g, c.filters, Bf16);
  const auto gradient_kernels = kernels::conv_weight_gradient_kernels(g, c.filters, Bf16);
  const auto input_kernels = kernels::input_gradient_is_convolution(g)
                                 ? kernels::conv_forward_kernels(kernels::input_gradient_geometry(g, c.filters),
                                                                 g.channels, Bf16)
                                 : std::vector<conv_kernel>{conv_kernel::gemm_col2im};
  // The plan picks one of them.
  const kernels::conv_plan chosen = kernels::plan_conv(g, c.filters, Bf16);
  CHECK(std::find(forward_kernels.begin(), forward_kernels.end(), chosen.forward) != forward_kernels.end());
  CHECK(std::find(gradient_kernels.begin(), gradient_kernels.end(), chosen.weight_gradient) != gradient_kernels.end());
  CHECK(std::find(input_kernels.begin(), input_kernels.end(), chosen.input_gradient) != input_kernels.end());

  for (const conv_kernel k : forward_kernels) {
    INFO("forward " << kernels::name(k));
    kernels::conv_forward_workspace<Bf16> ws;
    std::vector<float> y(want.y.size(), -1.0f);
    kernels::conv_forward(g, c.filters, batch, x.data(), w.data(), bias.data(), y.data(), ws, k);
    CHECK(y == want.y);
  }
  for (const conv_kernel wk : gradient_kernels)
    for (const conv_kernel ik : input_kernels) {
      INFO("weight gradient " << kernels::name(wk) << ", input gradient " << kernels::name(ik));
      kernels::conv_workspace<Bf16> ws;
      std::vector<float> dw(w.size(), -1.0f), db(c.filters), dx(x.size(), -1.0f);
      kernels::conv_backward(g, c.filters, batch, x.data(), w.data(), dy.data(), dw.data(), db.data(), dx.data(), ws,
                             kernels::conv_plan{chosen.forward, ik, wk});
      CHECK(dw == want.dw);
      CHECK(dx == want.dx);
    }
}

// A direct-sized layer with 32 channels and filters (direct, AMX tiles in
// bf16), a narrow 8-pixel one, a 3-channel first layer, a strided one; and
// non-square kernels: DS-CNN's first layer (10×4 at stride 2 on a 49×10
// spectrogram, padded 5 and 1), and a 3×1 one at stride 1 (its input
// gradient a convolution too).
const conv_case cases[] = {{{32, 16, 16, 3, 1, 1}, 32},
                           {{16, 8, 8, 3, 1, 1}, 16},
                           {{3, 16, 16, 3, 1, 1}, 32},
                           {{16, 9, 9, 3, 2, 1}, 16},
                           {{1, 49, 10, 10, 2, 5, 4, 1}, 8},
                           {{8, 12, 10, 3, 1, 1, 1, 0}, 16}};
static_assert(conv_geometry{1, 49, 10, 10, 2, 5, 4, 1}.out_height() == 25 &&
              conv_geometry{1, 49, 10, 10, 2, 5, 4, 1}.out_width() == 5 &&
              conv_geometry{1, 49, 10, 10, 2, 5, 4, 1}.col_rows() == 40);
static_assert(conv_geometry{3, 16, 16, 3, 1, 1}.square() && !conv_geometry{8, 12, 10, 3, 1, 1, 1, 0}.square());

}  // namespace

TEST_CASE("every convolution kernel the machine runs gives the convolution itself, in fp32", "[kernels][plan]") {
  INFO(kernels::describe_machine());
  for (const auto& c : cases) {
    INFO("channels " << c.g.channels << ", " << c.g.height << "x" << c.g.width << ", stride " << c.g.stride);
    check_every_kernel<false>(c);
  }
}

TEST_CASE("every convolution kernel the machine runs gives the convolution itself, in bf16", "[kernels][plan]") {
  INFO(kernels::describe_machine());
  for (const auto& c : cases) {
    INFO("channels " << c.g.channels << ", " << c.g.height << "x" << c.g.width << ", stride " << c.g.stride);
    check_every_kernel<true>(c);
  }
}

TEST_CASE("the plans follow the limits a test sets, and say what they chose", "[kernels][plan]") {
  const kernels::kernel_limits before = kernels::current_kernel_limits();
  const conv_geometry g{32, 16, 16, 3, 1, 1};
  kernels::kernel_limits no_direct = before;
  no_direct.direct_conv = false;
  no_direct.fastest_int8 = kernels::int8_kernel::portable;
  kernels::set_kernel_limits(no_direct);
  const kernels::conv_plan p = kernels::plan_conv(g, 32, true);
  CHECK(p.forward == conv_kernel::im2col_gemm);
  CHECK(p.weight_gradient == conv_kernel::im2col_gemm);
  CHECK(kernels::plan_int8_product() == kernels::int8_kernel::portable);
  CHECK(kernels::plan_int8_conv(g, 32, true).layout == kernels::int8_conv_layout::im2col);
  CHECK(kernels::describe(p) == "forward im2col + GEMM, input gradient im2col + GEMM, weight gradient im2col + GEMM");
  // A layer reports the plan, and so does summary().
  using layer = conv2d_layer<shape<32, 16, 16>, 32, 3, paper_4bit_bf16, 1, 1, paper_init>;
  CHECK(layer::kernels_used() == kernels::describe(p));
  const std::string text = summary<fixtures::small_net<paper_4bit>>();
  CHECK(text.find("kernels on this machine:\n  0: forward im2col + GEMM") != std::string::npos);
  kernels::set_kernel_limits(before);
  // A strided convolution's input gradient is never a convolution.
  CHECK(kernels::plan_conv({16, 9, 9, 3, 2, 1}, 16, false).input_gradient == conv_kernel::gemm_col2im);
  if (kernels::detected_features().wide_floats)
    CHECK(kernels::plan_conv(g, 32, false).forward == conv_kernel::direct);
}
