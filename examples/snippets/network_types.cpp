// docs/guide/networks.md: networks and schemes as types. Defines a small
// network over a scheme of its own, checks what can be checked at compile
// time, and prints the network's summary.
#include <fmt/core.h>

// [snippet]
#include <nibble/nibble.hpp>
using namespace nibble;

// A small CNN for 28 x 28 grey images; S is the scheme of every weight layer.
template <quant_scheme S>
using small_cnn = sequential<input<1, 28, 28>,
    conv2d<32, 3, S>, batch_norm_relu, max_pool2d<2>,   // 32 x 14 x 14
    conv2d<64, 3, S>, batch_norm_relu, max_pool2d<2>,   // 64 x 7 x 7
    flatten, linear<128, S>, batch_norm_relu, linear<10, S>>;

using paper_net = vgg4bit<10, paper_4bit>;        // the paper's VGG4bit: 15 levels, tanh clip, STE
using int8_net  = vgg4bit<10, int8_scheme>;       // the same with 255 levels
using fast_net  = vgg4bit<10, paper_4bit_bf16>;   // the paper's scheme, bf16 products
using my_scheme = scheme<bits<3>, hard_clip<1.0f>, abs_max_per_channel, clipped_ste>;
using my_net    = small_cnn<my_scheme>;

static_assert(paper_net::parameter_count == 3'251'018);
static_assert(!is_valid_scheme<bits<9>, no_clip, abs_max_per_tensor, ste>);  // 2 to 8 bits
static_assert(!is_valid_network<input<1, 28, 28>, conv2d<8, 3, my_scheme>, linear<10, my_scheme>>);  // no flatten

int main() {
  auto net = std::make_unique<my_net>();   // on the heap: a network holds its activations
  fmt::print("{}", summary(*net));         // layers, output shapes, parameters, schemes
}
// [end snippet]
