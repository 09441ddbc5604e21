// Checkpoints: a round trip restores everything; a checkpoint of another
// network or optimizer is refused in words; damaged, truncated and foreign
// files are refused as such; values are stored little-endian.
#include <catch2/catch.hpp>

#include <cstring>

#include "nibble/io/checkpoint.hpp"
#include "nibble/net/simple_resnet4bit.hpp"
#include "nibble/net/vgg4bit.hpp"
#include "nibble/quant/presets.hpp"
#include "nibble/train/optimizer.hpp"
#include "training_fixtures.hpp"

using namespace nibble;
using fixtures::small_net;
namespace fs = std::filesystem;

namespace {
const checkpoint_run example_run{7, "small", {{"batch_size", "16"}, {"seed", "5"}}, {std::byte{1}, std::byte{2}}, {}};

template <class Net>
std::vector<std::byte> example_checkpoint(Net& net) {
  std::mt19937_64 rng(1);
  net.init(rng);
  adamw opt;
  opt.step(net, 1e-3f);  // optimizer state for every parameter
  return encode_checkpoint(net, opt, example_run);
}
}  // namespace

TEST_CASE("checkpoint round trip restores parameters, statistics, optimizer state and the run", "[checkpoint]") {
  const fs::path dir = fixtures::fresh_folder("roundtrip");
  small_net<paper_4bit> a, b;
  std::mt19937_64 rng(1);
  a.init(rng);
  b.init(rng);
  a.visit_buffers([](xt::xtensor<float, 1>& buf) { buf.fill(0.25f); });
  adamw oa, ob;
  oa.step(a, 1e-3f);
  save_checkpoint(dir / "c.ckpt", a, oa, example_run);
  CHECK(fs::exists(dir / "c.ckpt"));
  CHECK_FALSE(fs::exists(io::temporary_path(dir / "c.ckpt")));
  const checkpoint_run run = load_checkpoint(dir / "c.ckpt", b, ob);
  CHECK(fixtures::all_values(a) == fixtures::all_values(b));
  CHECK(ob.steps == 1);
  CHECK(ob.m == oa.m);
  CHECK(ob.v == oa.v);
  CHECK(run.epochs_done == 7);
  CHECK(run.model == "small");
  CHECK(run.settings == example_run.settings);
  CHECK(run.history == example_run.history);
  fs::remove_all(dir);
}

TEST_CASE("restore_network loads parameters and statistics without an optimizer", "[checkpoint]") {
  small_net<paper_4bit> a, b;
  const checkpoint c = checkpoint::parse(example_checkpoint(a), "checkpoint 'a.ckpt'");
  std::mt19937_64 rng(5);
  b.init(rng);
  REQUIRE(fixtures::all_values(a) != fixtures::all_values(b));
  c.restore_network(b);
  CHECK(fixtures::all_values(a) == fixtures::all_values(b));
  small_net<int8_scheme> other;
  CHECK_THROWS_WITH(c.restore_network(other, "small8"), Catch::Contains("program:    small8, 2 classes, 8-bit"));
}

TEST_CASE("a checkpoint keeps the input ranges of layers that quantize activations", "[checkpoint]") {
  small_net<w4a8> a, b;
  std::mt19937_64 rng(3);
  a.init(rng);
  activation x({2, 3, 32, 32});
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  context train;
  a.forward(x, train);  // sets the ranges
  REQUIRE(a.layer<0>().inputs.range(0) < 0.0f);
  REQUIRE(a.layer<5>().inputs.range(1) > 0.0f);
  adamw opt;
  const checkpoint c = checkpoint::parse(encode_checkpoint(a, opt, example_run), "checkpoint 'a.ckpt'");
  b.init(rng);
  c.restore_network(b);
  CHECK((b.layer<0>().inputs.range == a.layer<0>().inputs.range));
  CHECK((b.layer<5>().inputs.range == a.layer<5>().inputs.range));
  context eval;
  eval.phase = mode::eval;
  const activation ya = a.forward(x, eval);
  CHECK((b.forward(x, eval) == ya));
  CHECK(describe_network<small_net<w4a8>>().text() != describe_network<small_net<paper_4bit>>().text());
  CHECK(describe_network<small_net<w4a8>>().summary.rfind("2 classes, 4-bit weights, 8-bit activations, fp32", 0) == 0);
}

TEST_CASE("a network is described by its layers, sizes and schemes, not by a compiler's type name", "[checkpoint]") {
  const network_description d = describe_network<vgg4bit<10, paper_4bit>>();
  CHECK(d.summary == "10 classes, 4-bit weights, float activations, fp32 arithmetic, 3,251,018 parameters");
  REQUIRE(d.layers.size() == 21);  // the input and 20 layers (batch_norm_relu is one)
  CHECK(d.layers[0] == "input 3x32x32");
  CHECK(d.layers[1] ==
        "0 conv2d 64 filters 3x3, stride 1, padding 1; weights 4-bit, abs-max scale per tensor, tanh clip 3, STE, "
        "fp32 products -> 64x32x32");
  CHECK(d.layers[20] ==
        "19 linear 10 outputs; weights 4-bit, abs-max scale per tensor, tanh clip 3, STE, fp32 products -> 10x1x1");
  CHECK(describe_network<vgg4bit<100, paper_4bit_bf16>>().summary ==
        "100 classes, 4-bit weights, float activations, bf16 arithmetic, 3,297,188 parameters");
  CHECK(d.schemes == std::vector<std::string>{paper_4bit::describe()});
  const network_description r = describe_network<simple_resnet4bit<10, float32_scheme>>();
  CHECK(r.summary.find("float weights") != std::string::npos);
  bool nested = false;
  for (const auto& l : r.layers) nested = nested || l.rfind("2.0 conv2d 16 filters", 0) == 0;
  CHECK(nested);  // layers inside the residual block are numbered inside it
}

TEST_CASE("a checkpoint of another network is refused in words a user reads", "[checkpoint]") {
  vgg4bit<10, paper_4bit> four;
  auto bytes = example_checkpoint(four);
  const checkpoint c = checkpoint::parse(bytes, "checkpoint 'a.ckpt'");
  vgg4bit<10, int8_scheme> eight;
  adamw opt;
  std::string message;
  try {
    c.restore(eight, opt, "VGG4bit");
  } catch (const checkpoint_error& e) {
    message = e.what();
  }
  CHECK_THAT(message, Catch::Contains("'a.ckpt' holds a different network") &&
                          Catch::Contains("checkpoint: small, 10 classes, 4-bit weights, float activations, fp32") &&
                          Catch::Contains("program:    VGG4bit, 10 classes, 8-bit weights") &&
                          Catch::Contains("first difference") && Catch::Contains("0 conv2d 64 filters"));
  CHECK(message.find("nibble::") == std::string::npos);  // no C++ type names
  CHECK(message.size() < 900);

  vgg4bit<100, paper_4bit> hundred;
  CHECK_THROWS_WITH(c.restore(hundred, opt), Catch::Contains("100 classes") && Catch::Contains("10 classes"));
}

TEST_CASE("a checkpoint refuses another optimizer and changes nothing when it refuses", "[checkpoint]") {
  small_net<paper_4bit> net;
  const checkpoint c = checkpoint::parse(example_checkpoint(net), "checkpoint 'a.ckpt'");
  small_net<paper_4bit> other;
  std::mt19937_64 rng(9);
  other.init(rng);
  const auto before = fixtures::all_values(other);
  sgd momentum;
  CHECK_THROWS_WITH(c.restore(other, momentum),
                    Catch::Contains("state of the adamw optimizer") && Catch::Contains("this run uses sgd"));
  CHECK(fixtures::all_values(other) == before);
  CHECK(momentum.steps == 0);
}

TEST_CASE("a checkpoint with any one byte changed is refused as damaged", "[checkpoint]") {
  small_net<paper_4bit> net;
  const auto bytes = example_checkpoint(net);
  REQUIRE(bytes.size() > 1000);
  std::size_t damaged = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto flipped = bytes;
    flipped[i] ^= std::byte{0x10};
    try {
      checkpoint::parse(std::move(flipped), "checkpoint 'x'");
    } catch (const io::io_error& e) {
      const std::string m = e.what();
      // Every change is caught; past the signature it is called damaged or,
      // in the size field, truncated / too long.
      if (m.find("damaged") != std::string::npos || m.find("truncated") != std::string::npos ||
          m.find("unexpected bytes") != std::string::npos || m.find("not a nibble file") != std::string::npos)
        ++damaged;
    }
  }
  CHECK(damaged == bytes.size());
  // A flipped weight in particular (in the TENS section, far from the header).
  auto flipped = bytes;
  flipped[bytes.size() / 3] ^= std::byte{0x01};
  CHECK_THROWS_WITH(checkpoint::parse(flipped, "checkpoint 'x'"),
                    Catch::Contains("damaged") && Catch::Contains("checksum does not match"));
}

TEST_CASE("a truncated checkpoint is reported as truncated at every length", "[checkpoint]") {
  small_net<paper_4bit> net;
  const auto bytes = example_checkpoint(net);
  for (std::size_t n = 0; n < bytes.size(); n += 1 + n / 16) {
    INFO("kept " << n << " of " << bytes.size() << " bytes");
    CHECK_THROWS_WITH(checkpoint::parse(std::vector<std::byte>(bytes.begin(), bytes.begin() + std::ptrdiff_t(n)), "c"),
                      Catch::Contains("truncated"));
  }
  auto longer = bytes;
  longer.push_back(std::byte{0});
  CHECK_THROWS_WITH(checkpoint::parse(longer, "c"), Catch::Contains("1 unexpected bytes after its end"));
}

TEST_CASE("files that are not checkpoints are refused as such", "[checkpoint]") {
  const fs::path dir = fixtures::fresh_folder("foreign");
  small_net<paper_4bit> net;
  adamw opt;
  fixtures::write_text(dir / "junk.ckpt", "not a checkpoint at all, just some text");
  CHECK_THROWS_WITH(load_checkpoint(dir / "junk.ckpt", net, opt), Catch::Contains("not a nibble file"));
  CHECK_THROWS_WITH(load_checkpoint(dir / "missing.ckpt", net, opt),
                    Catch::Contains("missing.ckpt") && Catch::Contains("No such file or directory"));
  CHECK_THROWS_WITH(load_checkpoint(dir, net, opt), Catch::Contains("not a regular file"));

  // A nibble file of another kind, and one from a newer nibble.
  io::sectioned_file_writer model({"MODL", "model file", 1});
  CHECK_THROWS_WITH(checkpoint::parse(model.finish(), "c"), Catch::Contains("is a nibble model file, not a checkpoint"));
  io::sectioned_file_writer newer({"CKPT", "checkpoint", checkpoint_kind.version + 1});
  CHECK_THROWS_WITH(checkpoint::parse(newer.finish(), "c"), Catch::Contains("written by a newer nibble"));
  io::sectioned_file_writer empty(checkpoint_kind);
  CHECK_THROWS_WITH(checkpoint::parse(empty.finish(), "c"), Catch::Contains("has no NETW section"));
  fs::remove_all(dir);
}

TEST_CASE("checkpoint values are little-endian whatever the host", "[checkpoint]") {
  small_net<paper_4bit> net;
  net.visit_parameters([](parameter& p) { p.value.fill(1.0f); });  // 1.0f = 0x3f800000
  net.visit_buffers([](xt::xtensor<float, 1>& b) { b.fill(1.0f); });
  adamw opt;
  const checkpoint c = checkpoint::parse(encode_checkpoint(net, opt, example_run), "c");
  const auto tens = c.section_bytes("TENS");
  // The first tensor: its length as a u64, then its floats.
  const std::size_t n = net.layer<0>().weight_count;
  REQUIRE(tens.size() > 8 + 4 * n);
  CHECK(std::uint8_t(tens[0]) == (n & 0xFF));
  CHECK(std::uint8_t(tens[1]) == (n >> 8));
  const std::byte one[4] = {std::byte{0x00}, std::byte{0x00}, std::byte{0x80}, std::byte{0x3f}};
  CHECK(std::memcmp(tens.data() + 8, one, 4) == 0);
  CHECK(std::memcmp(tens.data() + 8 + 4 * (n - 1), one, 4) == 0);
}
