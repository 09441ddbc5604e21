// docs/guide/networks.md: schemes composed from policies and options, and a
// network whose layers take different schemes (mixed precision).
#include <memory>

#include <fmt/core.h>
#include <nibble/nibble.hpp>

// [snippet]
using lsq_w4a8 = nibble::scheme<nibble::bits<4>, nibble::no_clip, nibble::learned_step, nibble::clipped_ste,
                                nibble::activation_bits<8>>;
using shift_w4 = nibble::scheme<nibble::power_of_two<4>, nibble::tanh_clip<3.0f>, nibble::abs_max_per_tensor,
                                nibble::soft_staircase<0.5f, 0.02f>>;
using rounded = nibble::with_rounding_t<nibble::paper_4bit, nibble::stochastic_rounding>;

// Mixed precision: 8-bit first and last layers, 4-bit in between.
using mixed_net = nibble::sequential<nibble::input<1, 28, 28>,
    nibble::conv2d<32, 3, nibble::int8_scheme>, nibble::batch_norm_relu, nibble::max_pool2d<2>,
    nibble::conv2d<64, 3, nibble::paper_4bit>, nibble::batch_norm_relu, nibble::max_pool2d<2>,
    nibble::flatten, nibble::linear<128, nibble::paper_4bit>, nibble::batch_norm_relu,
    nibble::linear<10, nibble::int8_scheme>>;
// [end snippet]

static_assert(nibble::quant_scheme<lsq_w4a8> && nibble::quant_scheme<shift_w4> && nibble::quant_scheme<rounded>);

int main() {
  auto net = std::make_unique<mixed_net>();
  fmt::print("{}", nibble::summary(*net));
}
