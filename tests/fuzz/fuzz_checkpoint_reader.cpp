// libFuzzer target: reading and restoring checkpoints and weights files
// (one reader shares its tensor section with the other). The first byte
// picks the kind (its value / 3, odd: a weights file) and one of three ways
// to use the input (its value % 3):
//   0  the input is the file;
//   1  the input is the file, with its size field and checksum repaired, so
//      that the section parsers see it instead of the envelope check;
//   2  edits to a valid file (pairs of offset and byte), repaired the
//      same way: damaged real structures, which reach the deepest code.
// Refusing with io_error is the only acceptable failure.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "nibble/io/checkpoint.hpp"
#include "nibble/io/weights_file.hpp"
#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/global_avg_pool.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/layers/relu.hpp"
#include "nibble/net/sequential.hpp"
#include "nibble/quant/presets.hpp"
#include "nibble/train/metrics.hpp"
#include "nibble/train/optimizer.hpp"
#include "../reseal.hpp"

namespace {
using net_type = nibble::sequential<nibble::input<3, 8, 8>, nibble::conv2d<4, 3, nibble::paper_4bit>,
                                    nibble::batch_norm_relu, nibble::global_avg_pool,
                                    nibble::linear<3, nibble::paper_4bit>>;

std::vector<std::byte> valid_checkpoint() {
  net_type net;
  std::mt19937_64 rng(1);
  net.init(rng);
  nibble::adamw opt;
  opt.step(net, 1e-3f);
  nibble::epoch_metrics m;
  m.epoch = 1;
  m.weight_levels = {15, 14};
  const nibble::checkpoint_run run{1, "fuzz", {{"seed", "1"}}, nibble::encode_history({m}), {}};
  return nibble::encode_checkpoint(net, opt, run);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::byte> valid = valid_checkpoint();
  static const std::vector<std::byte> valid_weights = [] {
    net_type net;
    std::mt19937_64 rng(2);
    net.init(rng);
    return nibble::encode_weights(net, "fuzz");
  }();
  if (size == 0) return 0;
  const bool weights = data[0] / 3 % 2 == 1;
  std::vector<std::byte> file = fixtures::fuzzed_file(data, size, weights ? valid_weights : valid);
  try {
    if (weights) {
      net_type net;
      nibble::load_weights(
          nibble::io::sectioned_file::parse(std::move(file), "weights file 'fuzz'", nibble::weights_file_kind), net);
      return 0;
    }
    const nibble::checkpoint c = nibble::checkpoint::parse(std::move(file), "checkpoint 'fuzz'");
    net_type net;
    nibble::adamw opt;
    c.restore(net, opt);
    nibble::decode_history(c.run().history, "history");
  } catch (const nibble::io::io_error&) {
  }
  return 0;
}
