// Built at -O0 (tests/CMakeLists.txt): train() must say once, on stderr,
// that the program was compiled without optimisation. The test passes only
// when the note is printed (PASS_REGULAR_EXPRESSION).
#include <cstdio>
#include <memory>
#include <random>

#include <nibble/layers/flatten.hpp>
#include <nibble/layers/linear.hpp>
#include <nibble/net/sequential.hpp>
#include <nibble/quant/presets.hpp>
#include <nibble/train/trainer.hpp>

#ifdef __OPTIMIZE__
#error "this test must be compiled without optimisation"
#endif

using net_type = nibble::sequential<nibble::input<1, 4, 4>, nibble::flatten, nibble::linear<2, nibble::paper_4bit>>;

int main() {
  nibble::data::dataset d;
  d.classes = 2;
  d.shape = {1, 4, 4};
  d.norm = {{0.5f}, {0.25f}};
  for (int i = 0; i < 8; ++i) {
    d.pixels.insert(d.pixels.end(), 16, std::uint8_t(i * 30));
    d.labels.push_back(i % 2);
  }
  auto net = std::make_unique<net_type>();
  std::mt19937_64 rng(0);
  net->init(rng);
  nibble::adamw opt;
  nibble::train_options o;
  o.epochs = 2;
  o.batch_size = 4;
  o.t_max = 2;
  o.augment = {0, false};
  o.progress = false;
  nibble::train(*net, opt, d, d, o);
  nibble::train(*net, opt, d, d, o);  // the note comes once per process
  return 0;
}
