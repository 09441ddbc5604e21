// Fine-tuning's start: a float checkpoint loads into a quantized network of
// the same topology (weights, biases, batch-norm statistics; learned steps
// started afresh, activation ranges left for the first batch); another
// topology or a quantized source is refused in words, changing nothing.
#include <catch2/catch.hpp>

#include "nibble/io/init_from_float.hpp"
#include "nibble/quant/presets.hpp"
#include "nibble/train/optimizer.hpp"
#include "training_fixtures.hpp"

using namespace nibble;
using fixtures::small_net;

namespace {
using lsq_w4a8 = scheme<bits<4>, no_clip, learned_step, clipped_ste, activation_bits<8>>;
using lsq_w4a4_learned_inputs = scheme<bits<4>, no_clip, learned_step, clipped_ste, learned_activation_bits<4>>;

checkpoint float_checkpoint(small_net<float32_scheme>& source) {
  std::mt19937_64 rng(1);
  source.init(rng);
  source.visit_buffers([](xt::xtensor<float, 1>& b) { b.fill(0.5f); });  // running statistics of a trained net
  adamw opt;
  checkpoint_run run;
  run.model = "small";
  return checkpoint::parse(encode_checkpoint(source, opt, run), "checkpoint 'f.ckpt'");
}

std::vector<float> parameters_without_steps(auto& net) {
  std::vector<float> v;
  net.visit_parameters([&](parameter& p) {
    if (p.role != parameter_role::step) v.insert(v.end(), p.value.begin(), p.value.end());
  });
  return v;
}
}  // namespace

TEST_CASE("a float checkpoint starts a quantized network of the same topology", "[init_from]") {
  small_net<float32_scheme> source;
  const checkpoint c = float_checkpoint(source);

  small_net<paper_4bit> w4;
  init_from_float(c, w4, "small W4");
  CHECK(fixtures::all_values(w4) == fixtures::all_values(source));

  small_net<lsq_w4a8> lsq;
  std::mt19937_64 rng(9);
  lsq.init(rng);
  lsq.layer<0>().inputs.range = {-1.0f, 2.0f};
  init_from_float(c, lsq, "small LSQ W4A8");
  CHECK(parameters_without_steps(lsq) == parameters_without_steps(source));
  // The step is started from the loaded weights; the range waits for the first batch.
  const auto& w = lsq.layer<0>().weight.value;
  double mean = 0;
  for (float v : w) mean += std::fabs(v) / double(w.size());
  CHECK(lsq.layer<0>().step.value(0) == Approx(2.0 * mean / std::sqrt(7.0)).epsilon(1e-5));
  CHECK(lsq.layer<0>().inputs.range(0) == 0.0f);
  CHECK(lsq.layer<0>().inputs.range(1) == 0.0f);
  CHECK(lsq.layer<1>().running_mean(0) == 0.5f);

  small_net<lsq_w4a4_learned_inputs> learned_inputs;
  learned_inputs.init(rng);
  learned_inputs.layer<0>().inputs.state = {8.0f, 1.0f};
  init_from_float(c, learned_inputs);
  CHECK(parameters_without_steps(learned_inputs) == parameters_without_steps(source));
  CHECK_FALSE(learned_inputs.layer<0>().inputs.started());  // the first batch starts it
}

TEST_CASE("another topology or a quantized source is refused, and nothing changes", "[init_from]") {
  small_net<float32_scheme> source;
  const checkpoint c = float_checkpoint(source);
  using wider = sequential<input<3, 32, 32>, conv2d<6, 3, paper_4bit, 2>, batch_norm, relu, global_avg_pool,
                           dropout<0.25f>, linear<2, paper_4bit>>;
  wider other;
  std::mt19937_64 rng(2);
  other.init(rng);
  const auto before = fixtures::all_values(other);
  CHECK_THROWS_WITH(init_from_float(c, other, "wider"),
                    Catch::Contains("cannot start wider from the checkpoint of small: the topologies differ") &&
                        Catch::Contains("checkpoint: 0 conv2d 4 filters") && Catch::Contains("program:    0 conv2d 6 filters"));
  CHECK(fixtures::all_values(other) == before);

  small_net<paper_4bit> quantized_source, target;
  quantized_source.init(rng);
  adamw opt;
  const checkpoint q = checkpoint::parse(encode_checkpoint(quantized_source, opt, {}), "checkpoint 'q.ckpt'");
  CHECK_THROWS_WITH(init_from_float(q, target), Catch::Contains("it holds quantized weights") &&
                                                    Catch::Contains("float32_scheme"));
}
