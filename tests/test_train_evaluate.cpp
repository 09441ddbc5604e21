// evaluate and predict: on a dataset and on plain tensors they agree; the
// tensor forms refuse wrong shapes, label counts and labels in words.
#include <catch2/catch.hpp>

#include <numeric>

#include "deploy_fixtures.hpp"
#include "nibble/data/batch_loader.hpp"
#include "nibble/deploy/convert.hpp"
#include "nibble/quant/presets.hpp"
#include "nibble/train/evaluate.hpp"
#include "training_fixtures.hpp"

using namespace nibble;
using fixtures::small_net;

namespace {
// The whole dataset normalised as one tensor, in order.
activation all_images(const data::dataset& d) {
  data::batch_loader loader(d, {.batch_size = d.size(), .shuffle = false, .augment = false});
  loader.start_epoch(0);
  data::batch b;
  REQUIRE(loader.next(b));
  return b.images;
}
}  // namespace

TEST_CASE("evaluate on tensors equals evaluate on the dataset, for any batch size", "[evaluate]") {
  small_net<paper_4bit> net;
  std::mt19937_64 rng(3);
  net.init(rng);
  const auto test_set = fixtures::colour_dataset(45, 4);
  const activation images = all_images(test_set);
  const evaluation whole = evaluate(net, test_set, {.batch_size = 45});
  REQUIRE(whole.images == 45);
  REQUIRE(whole.accuracy > 0.0);
  REQUIRE(whole.accuracy < 1.0);  // an untrained net: some right, some wrong, so a miscount shows
  for (std::size_t batch : {1u, 7u, 45u, 100u}) {
    const evaluation e = evaluate(net, images, test_set.labels, {.batch_size = batch});
    CHECK(e.images == 45);
    CHECK(e.accuracy == whole.accuracy);
    CHECK(e.loss == Approx(whole.loss).epsilon(1e-6));
    const evaluation d = evaluate(net, test_set, {.batch_size = batch});
    CHECK(d.accuracy == whole.accuracy);
    CHECK(d.loss == Approx(whole.loss).epsilon(1e-6));
  }
  const evaluation flipped = evaluate(net, images, test_set.labels, {.batch_size = 8, .flip = true});
  CHECK(flipped.loss == Approx(evaluate(net, test_set, {.batch_size = 45, .flip = true}).loss).epsilon(1e-6));
}

TEST_CASE("predict gives each image's top-1 class, whatever the batch size", "[evaluate]") {
  small_net<paper_4bit> net;
  std::mt19937_64 rng(5);
  net.init(rng);
  const auto test_set = fixtures::colour_dataset(30, 6);
  const activation images = all_images(test_set);
  context eval{.phase = mode::eval};
  const activation logits = net.forward(images, eval);
  std::vector<std::int32_t> expected;
  for (std::size_t i = 0; i < 30; ++i) expected.push_back(logits(i, 1, 0, 0) > logits(i, 0, 0, 0) ? 1 : 0);
  for (std::size_t batch : {1u, 4u, 30u}) CHECK(predict(net, images, batch) == expected);
  std::size_t right = 0;
  for (std::size_t i = 0; i < 30; ++i) right += expected[i] == test_set.labels[i];
  CHECK(evaluate(net, images, test_set.labels).accuracy == double(right) / 30.0);
}

TEST_CASE("evaluate and predict on tensors refuse what does not fit, saying so", "[evaluate]") {
  small_net<paper_4bit> net;
  std::mt19937_64 rng(5);
  net.init(rng);
  const auto test_set = fixtures::colour_dataset(10, 6);
  const activation images = all_images(test_set);
  std::vector<std::int32_t> labels = test_set.labels;
  labels.pop_back();
  CHECK_THROWS_WITH(evaluate(net, images, labels), Catch::Contains("9 labels for 10 images"));
  labels = test_set.labels;
  labels[4] = 2;
  CHECK_THROWS_WITH(evaluate(net, images, labels), Catch::Contains("label 2"));
  const activation wrong({4, 1, 28, 28});
  CHECK_THROWS_WITH(predict(net, wrong), Catch::Contains("(N, 3, 32, 32)") && Catch::Contains("(4, 1, 28, 28)"));
  CHECK_THROWS_WITH(predict(net, images, 0), Catch::Contains("batch size must be at least 1"));
}

TEST_CASE("a deployed network's evaluate and predict take bytes and agree with the trained network", "[evaluate][deploy]") {
  using trained_type = small_net<w4a8>;  // integer layers: the deployed logits equal the trained ones
  const auto trained = fixtures::trained_looking<trained_type>(17);
  const auto test_set = fixtures::colour_dataset(45, 8);
  auto deployed = deploy::convert(*trained, test_set.norm);
  static_assert(takes_image_bytes<deploy::deployed_t<trained_type>> && !takes_image_bytes<trained_type>);

  const evaluation reference = evaluate(*trained, test_set, {.batch_size = 45});
  REQUIRE(reference.accuracy > 0.0);
  REQUIRE(reference.accuracy < 1.0);  // some right, some wrong, so a miscount shows
  image_batch bytes({45, 3, 32, 32});
  std::copy_n(test_set.image(0), bytes.size(), bytes.data());
  const std::vector<std::int32_t> expected = predict(*trained, all_images(test_set));
  for (std::size_t batch : {1u, 7u, 45u, 100u}) {
    const evaluation d = evaluate(*deployed, test_set, {.batch_size = batch});
    CHECK(d.images == 45);
    CHECK(d.accuracy == reference.accuracy);
    CHECK(d.loss == Approx(reference.loss).epsilon(1e-6));
    const evaluation t = evaluate(*deployed, bytes, test_set.labels, {.batch_size = batch});
    CHECK(t.accuracy == reference.accuracy);
    CHECK(predict(*deployed, bytes, batch) == expected);
  }
  // What does not fit is refused in words.
  CHECK_THROWS_WITH(evaluate(*deployed, test_set, {.flip = true}), Catch::Contains("test-time views"));
  std::vector<std::int32_t> short_labels(test_set.labels.begin(), test_set.labels.end() - 1);
  CHECK_THROWS_WITH(evaluate(*deployed, bytes, short_labels), Catch::Contains("44 labels for 45 images"));
  CHECK_THROWS_WITH(predict(*deployed, image_batch({2, 1, 32, 32})),
                    Catch::Contains("images of 1x32x32 for a network that takes 3x32x32"));
}
