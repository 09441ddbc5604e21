// Weights files: a round trip restores every parameter and statistic; a file
// of another network, a checkpoint, and damaged or truncated files are
// refused in words, and a refused file leaves the network unchanged.
#include <catch2/catch.hpp>

#include <cstring>

#include "nibble/io/checkpoint.hpp"
#include "nibble/io/weights_file.hpp"
#include "nibble/quant/presets.hpp"
#include "nibble/train/optimizer.hpp"
#include "reseal.hpp"
#include "training_fixtures.hpp"

using namespace nibble;
using fixtures::small_net;
namespace fs = std::filesystem;

namespace {
template <class Net>
void init(Net& net, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  net.init(rng);
}
}  // namespace

TEST_CASE("a weights file round trip restores parameters and statistics, and eval logits", "[weights_file]") {
  const fs::path dir = fixtures::fresh_folder("weights_roundtrip");
  small_net<paper_4bit> a, b;
  init(a, 1);
  init(b, 2);
  a.visit_buffers([](xt::xtensor<float, 1>& buf) { buf.fill(0.25f); });
  REQUIRE(fixtures::all_values(a) != fixtures::all_values(b));
  save_weights(dir / "a.weights", a, "small");
  CHECK_FALSE(fs::exists(io::temporary_path(dir / "a.weights")));
  load_weights(dir / "a.weights", b);
  CHECK(fixtures::all_values(a) == fixtures::all_values(b));

  activation x({3, 3, 32, 32});
  std::mt19937_64 rng(4);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  context eval{.phase = mode::eval};
  const activation from_a = a.forward(x, eval);
  CHECK(from_a == b.forward(x, eval));
  // Only the network: far smaller than a checkpoint with AdamW's two moments.
  adamw opt;
  opt.step(a, 1e-3f);
  CHECK(encode_weights(a).size() * 2 < encode_checkpoint(a, opt, {}).size());
  fs::remove_all(dir);
}

TEST_CASE("weights of another network, a checkpoint and damaged files are refused; nothing changes", "[weights_file]") {
  const fs::path dir = fixtures::fresh_folder("weights_refused");
  small_net<paper_4bit> a, b;
  init(a, 1);
  init(b, 2);
  const auto before = fixtures::all_values(b);
  save_weights(dir / "a.weights", a, "small");

  small_net<int8_scheme> other;
  CHECK_THROWS_WITH(load_weights(dir / "a.weights", other, "small8"),
                    Catch::Contains("holds a different network") && Catch::Contains("weights file: small, 2 classes, 4-bit") &&
                        Catch::Contains("program:      small8, 2 classes, 8-bit"));
  CHECK_THROWS_AS(load_weights(dir / "a.weights", other), weights_mismatch);

  adamw opt;
  save_checkpoint(dir / "c.ckpt", a, opt, {});
  CHECK_THROWS_WITH(load_weights(dir / "c.ckpt", b), Catch::Contains("checkpoint") && Catch::Contains("weights file"));

  std::vector<std::byte> bytes = encode_weights(a);
  std::vector<std::byte> flipped = bytes;
  flipped[bytes.size() / 2] ^= std::byte{0x10};
  CHECK_THROWS_WITH(
      load_weights(io::sectioned_file::parse(flipped, "weights file 'f'", weights_file_kind), b),
      Catch::Contains("weights file 'f'") && Catch::Contains("checksum"));
  std::vector<std::byte> truncated(bytes.begin(), bytes.end() - 100);
  CHECK_THROWS_AS(load_weights(io::sectioned_file::parse(truncated, "weights file 't'", weights_file_kind), b),
                  io::io_error);
  // The right network with its last tensor missing: every tensor is read
  // before any is assigned, so b keeps its values.
  io::sectioned_file_writer forged(weights_file_kind);
  io::byte_writer netw, tens;
  netw.text(describe_network<small_net<paper_4bit>>().text());
  netw.text("small");
  forged.add("NETW", netw);
  std::size_t tensors = 0;
  a.visit_parameters([&](parameter& p) {
    if (tensors++ < 3) tens.floats(std::span<const float>(p.value.data(), p.size()));
  });
  forged.add("TENS", tens);
  CHECK_THROWS_WITH(load_weights(io::sectioned_file::parse(forged.finish(), "weights file 's'", weights_file_kind), b),
                    Catch::Contains("weights file 's', section TENS") && Catch::Contains("tensor 3"));
  CHECK(fixtures::all_values(b) == before);
  fs::remove_all(dir);
}
