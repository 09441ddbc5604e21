// DS-CNN, MLPerf Tiny's keyword-spotting network, on synthetic keywords:
// no speech data is at hand, so each of 12 "keywords" is a track of its
// own through a 49×10 feature map (bytes, as the deployed network takes
// them), shifted in time by a few frames and drowned in noise. It checks
// that the network with its 10×4 first layer learns at W4A8 and that its
// integer deployment gives the trained logits bit for bit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "nibble/deploy/convert.hpp"
#include "nibble/net/ds_cnn.hpp"
#include "nibble/quant/presets.hpp"
#include "nibble/train/optimizer.hpp"
#include "nibble/train/step.hpp"

#include "deploy_fixtures.hpp"

using namespace nibble;

namespace {

constexpr std::size_t frames = 49, features = 10, keywords = 12;

// Keyword k's track: in each frame, the feature it lights, a random walk.
std::vector<std::vector<int>> keyword_tracks(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> start(0, int(features) - 1), step(-1, 1);
  std::vector<std::vector<int>> tracks(keywords, std::vector<int>(frames));
  for (auto& t : tracks) {
    t[0] = start(rng);
    for (std::size_t f = 1; f < frames; ++f) t[f] = std::clamp(t[f - 1] + step(rng), 0, int(features) - 1);
  }
  return tracks;
}

// n utterances: a keyword's track shifted by up to 4 frames either way,
// over noise, as bytes.
void utterances(const std::vector<std::vector<int>>& tracks, std::mt19937_64& rng, std::size_t n,
                image_batch& x, std::vector<std::int32_t>& labels) {
  std::uniform_int_distribution<int> keyword(0, int(keywords) - 1), shift(-4, 4), noise(0, 90);
  x.resize({n, 1, frames, features});
  labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int k = keyword(rng), s = shift(rng);
    labels[i] = k;
    for (std::size_t f = 0; f < frames; ++f)
      for (std::size_t c = 0; c < features; ++c) x(i, 0, f, c) = std::uint8_t(noise(rng));
    for (std::size_t f = 0; f < frames; ++f) {
      const int from = int(f) - s;
      if (from < 0 || from >= int(frames)) continue;
      x(i, 0, f, std::size_t(tracks[std::size_t(k)][std::size_t(from)])) = 220;
    }
  }
}

}  // namespace

TEST_CASE("DS-CNN at W4A8 learns 12 synthetic keywords, and deploys to integers bit for bit", "[train][deploy]") {
  using net_type = ds_cnn<keywords, w4a8>;
  auto net = std::make_unique<net_type>();
  std::mt19937_64 rng(31);
  net->init(rng);
  const auto tracks = keyword_tracks(rng);
  const data::normalisation norm{{0.25f}, {0.25f}};
  adamw opt{.weight_decay = 1e-4f};
  context ctx;
  image_batch bytes;
  activation grad;
  std::vector<std::int32_t> labels;
  constexpr int steps = 120;
  for (int step = 0; step < steps; ++step) {
    utterances(tracks, rng, 32, bytes, labels);
    ctx.begin_step(std::uint64_t(step));
    ctx.progress = float(step) / float(steps);
    train_step(*net, opt, fixtures::normalised(bytes, norm), labels, 3e-3f, 0.5, grad, ctx);
  }
  ctx.phase = mode::eval;
  utterances(tracks, rng, 256, bytes, labels);
  const activation trained = net->forward(fixtures::normalised(bytes, norm), ctx);
  const double accuracy = double(count_correct(trained, labels)) / 256.0;
  INFO("accuracy " << accuracy << " (chance 1/12)");
  CHECK(accuracy > 0.9);

  auto deployed = deploy::convert(*net, norm);
  const activation& out = deployed->forward(bytes, ctx);
  REQUIRE(out.shape() == trained.shape());
  CHECK(std::equal(out.begin(), out.end(), trained.begin(), trained.end()));
}
