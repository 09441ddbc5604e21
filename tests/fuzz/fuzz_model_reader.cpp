// libFuzzer target: reading and loading model files. As for checkpoints,
// the first byte chooses how the input is used:
//   0  the input is the file;
//   1  the input is the file, resealed (size field and checksum rewritten),
//      so that the section parsers see it;
//   2  edits to a valid model file (pairs of offset and byte), resealed:
//      damaged real tensors, codes and shapes.
// and (first byte / 3) % 2 picks the network: weight-only layers, or
// integer layers (input grids, two epilogues per layer).
// Refusing with io_error is the only acceptable failure; a network that
// loads must run.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "nibble/deploy/convert.hpp"
#include "nibble/io/model_file.hpp"
#include "nibble/layers/global_avg_pool.hpp"
#include "nibble/layers/relu.hpp"
#include "nibble/quant/presets.hpp"
#include "../reseal.hpp"

namespace {
using trained_type = nibble::sequential<nibble::input<3, 8, 8>, nibble::conv2d<4, 3, nibble::paper_4bit>,
                                        nibble::batch_norm_relu, nibble::global_avg_pool,
                                        nibble::linear<3, nibble::int8_scheme>>;
using integer_type = nibble::sequential<nibble::input<3, 8, 8>, nibble::conv2d<4, 3, nibble::w4a8>,
                                        nibble::batch_norm_relu, nibble::global_avg_pool,
                                        nibble::linear<3, nibble::w8a8>>;

template <class Trained>
std::vector<std::byte> valid_model() {
  Trained net;
  std::mt19937_64 rng(1);
  net.init(rng);
  nibble::activation x({2, 3, 8, 8});
  std::normal_distribution<float> normal;
  for (auto& v : x) v = normal(rng);
  nibble::context train;
  net.forward(x, train);  // input ranges, for the integer network
  const nibble::model_info info{"fuzz", {{"seed", "1"}}};
  const nibble::data::normalisation norm{{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}};
  return nibble::encode_model(*nibble::deploy::convert(net, norm), info);
}

template <class Trained>
void read_and_run(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::byte> valid = valid_model<Trained>();
  std::vector<std::byte> file = fixtures::fuzzed_file(data, size, valid);
  try {
    const nibble::model_file m = nibble::model_file::parse(std::move(file), "model file 'fuzz'");
    auto net = m.load<nibble::deploy::deployed_t<Trained>>();
    nibble::image_batch x({1, 3, 8, 8});
    x.fill(128);
    nibble::context eval{nibble::mode::eval};
    net->forward(x, eval);
  } catch (const nibble::io::io_error&) {
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if ((data[0] / 3) % 2 == 0)
    read_and_run<trained_type>(data, size);
  else
    read_and_run<integer_type>(data, size);
  return 0;
}
