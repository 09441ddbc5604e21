// Builds against an installed nibble: defines a small 4-bit network type,
// runs one training step and checks the weights took at most 15 levels.
// Built twice: with nibble::nibble, and with nibble::native (EXPECT_NATIVE),
// which must bring -march=native.
#include <cstdio>
#include <random>

#include <nibble/nibble.hpp>

using namespace nibble;
using net_type = sequential<input<3, 8, 8>, conv2d<4, 3, paper_4bit>, batch_norm, relu, flatten, linear<3, paper_4bit>>;

#ifdef EXPECT_NATIVE
static_assert(nibble::built_native, "nibble::native did not bring its flags");
#else
static_assert(!nibble::built_native, "nibble::nibble must not force native flags on its users");
#endif

int main() {
  net_type net;
  std::mt19937_64 rng(1);
  net.init(rng);
  activation x = xt::ones<float>({2, 3, 8, 8});
  x(1, 0, 2, 2) = -1.0f;
  const std::vector<std::int32_t> labels{0, 2};
  context ctx;
  activation grad;
  const double loss = softmax_cross_entropy(net.forward(x, ctx), labels, grad).loss;
  net.backward(grad, nullptr, ctx);
  adamw opt;
  opt.step(net, 1e-3f);
  net.post_step();
  for (std::size_t levels : distinct_weight_levels(net))
    if (levels > 15) return 1;
  std::printf("consumer ok (%s): %zu parameters, loss %.4f; AVX-512 %d, VNNI %d, BF16 %d, AMX %d\n",
              nibble::built_native ? "native" : "portable", net_type::parameter_count, loss, NIBBLE_ISA_AVX512F,
              NIBBLE_ISA_AVX512_VNNI, NIBBLE_ISA_AVX512_BF16, NIBBLE_ISA_AMX_INT8);
  return 0;
}
