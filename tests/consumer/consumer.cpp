// Builds against an installed nibble: defines a small 4-bit network type,
// runs one training step and checks the weights took at most 15 levels.
#include <cstdio>
#include <random>

#include <nibble/nibble.hpp>

using namespace nibble;
using net_type = sequential<input<3, 8, 8>, conv2d<4, 3, paper_4bit>, batch_norm, relu, flatten, linear<3, paper_4bit>>;

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
  std::printf("consumer ok: %zu parameters, loss %.4f\n", net_type::parameter_count, loss);
  return 0;
}
