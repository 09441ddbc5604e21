// Model files for the networks train_cifar10 and train_cifar100 make.
//
//   cifar_model export --checkpoint runs/a/last.ckpt --output vgg4bit.nibble
//   cifar_model evaluate vgg4bit.nibble [--data DIR] [--checkpoint runs/a/last.ckpt]
//
// export turns a training checkpoint into a model file: weight codes packed
// at their bit width, batch norm folded, no optimizer state. evaluate runs a
// model file on the CIFAR test set and reports accuracy, images/s and size;
// given the checkpoint it came from, it also runs the trained network's
// eval forward on every image and counts where the two top-1 answers agree.
//
// Which network a file holds is read from the file (its description) and
// matched against the network types compiled in below.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <nibble/data/augment.hpp>
#include <nibble/data/cifar.hpp>
#include <nibble/deploy/convert.hpp>
#include <nibble/io/checkpoint.hpp>
#include <nibble/io/model_file.hpp>
#include <nibble/kernels/parallel.hpp>
#include <nibble/net/describe.hpp>
#include <nibble/net/simple_resnet4bit.hpp>
#include <nibble/net/vgg4bit.hpp>
#include <nibble/quant/presets.hpp>
#include <nibble/train/metrics.hpp>

namespace {

using namespace nibble;

// f.template operator()<Trained>(label) for every network the CIFAR
// trainers build, until one returns true. Returns whether one did.
template <class F>
bool for_some_cifar_network(F&& f) {
  auto by_scheme = [&]<std::size_t Classes, class S>() {
    return f.template operator()<vgg4bit<Classes, S>>("VGG4bit") ||
           f.template operator()<simple_resnet4bit<Classes, S>>("SimpleResNet4bit");
  };
  auto by_bits = [&]<std::size_t Classes, int Bits>() {
    using S = scheme_for_bits_t<Bits>;
    return by_scheme.template operator()<Classes, S>() ||
           by_scheme.template operator()<Classes, with_arithmetic_t<S, bf16_arithmetic>>();
  };
  auto by_classes = [&]<std::size_t Classes>() {
    return by_bits.template operator()<Classes, 4>() || by_bits.template operator()<Classes, 8>() ||
           by_bits.template operator()<Classes, 32>();
  };
  return by_classes.template operator()<10>() || by_classes.template operator()<100>();
}

[[noreturn]] void unknown_network(const std::string& what, const std::string& description) {
  const auto end = description.find('\n');
  throw std::runtime_error(what + " holds a network this program was not built for (" + description.substr(0, end) +
                           "); it knows VGG4bit and SimpleResNet4bit with 10 or 100 classes, 4-, 8- or 32-bit "
                           "weights, fp32 or bf16 arithmetic");
}

int export_model(const std::filesystem::path& checkpoint_file, const std::filesystem::path& output) {
  const checkpoint c = checkpoint::read(checkpoint_file);
  const bool done = for_some_cifar_network([&]<class Trained>(const char* label) {
    if (c.network() != describe_network<Trained>().text()) return false;
    auto trained = std::make_unique<Trained>();
    c.restore_network(*trained, label);
    auto deployed = deploy::convert(*trained);

    const auto norm = data::cifar_normalisation();
    model_info info{label, {norm.mean.begin(), norm.mean.end()}, {norm.std.begin(), norm.std.end()}, {}};
    info.notes.emplace_back("checkpoint", std::filesystem::absolute(checkpoint_file).string());
    info.notes.emplace_back("epochs trained", std::to_string(c.run().epochs_done));
    const auto history = decode_history(c.run().history, "the checkpoint's history");
    if (!history.empty())
      info.notes.emplace_back("test accuracy after the last epoch", fmt::format("{:.4f}", history.back().test_accuracy));
    for (const auto& [key, value] : c.run().settings) info.notes.emplace_back("training " + key, value);
    save_model(output, *deployed, info);

    std::size_t fp32_bytes = 0;
    trained->visit_parameters([&](parameter& p) { fp32_bytes += p.size() * sizeof(float); });
    fmt::print("{}: {}, {}\n  {} bytes ({:.2f} MB; its float parameters take {:.2f} MB)\n", output.string(), label,
               describe_network<deploy::deployed_t<Trained>>().summary, std::filesystem::file_size(output),
               double(std::filesystem::file_size(output)) / 1e6, double(fp32_bytes) / 1e6);
    return true;
  });
  if (!done) unknown_network("checkpoint " + io::quoted(checkpoint_file), c.network());
  return 0;
}

struct evaluation {
  std::size_t correct = 0, agreeing = 0, seen = 0;
  double seconds = 0;
  float largest_difference = 0;
};

std::size_t top1(const activation& logits, std::size_t i) {
  std::size_t best = 0;
  for (std::size_t c = 1; c < logits.shape(1); ++c)
    if (logits(i, c, 0, 0) > logits(i, best, 0, 0)) best = c;
  return best;
}

template <class Trained>
evaluation evaluate_deployed(deploy::deployed_t<Trained>& deployed, Trained* trained, const data::dataset& test,
                             const model_info& info, std::size_t batch_size) {
  data::normalisation norm{};
  for (std::size_t c = 0; c < 3; ++c) {
    norm.mean[c] = info.input_mean.at(c);
    norm.std[c] = info.input_std.at(c);
  }
  evaluation e;
  context eval{mode::eval};
  activation images;
  for (std::size_t start = 0; start < test.size(); start += batch_size) {
    const std::size_t n = std::min(batch_size, test.size() - start);
    images.resize({n, 3, data::image_side, data::image_side});
    for (std::size_t i = 0; i < n; ++i)
      data::normalise_image(test.image(start + i), images.data() + i * data::image_bytes, norm);
    const auto t0 = std::chrono::steady_clock::now();
    const activation& logits = deployed.forward(images, eval);
    e.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (std::size_t i = 0; i < n; ++i) e.correct += top1(logits, i) == std::size_t(test.labels[start + i]);
    if (trained) {
      const activation& reference = trained->forward(images, eval);
      for (std::size_t i = 0; i < n; ++i) {
        e.agreeing += top1(logits, i) == top1(reference, i);
        for (std::size_t c = 0; c < logits.shape(1); ++c)
          e.largest_difference = std::max(e.largest_difference, std::fabs(logits(i, c, 0, 0) - reference(i, c, 0, 0)));
      }
    }
    e.seen += n;
  }
  return e;
}

int evaluate_model(const std::filesystem::path& model_path, const std::string& data_dir,
                   const std::filesystem::path& checkpoint_file, std::size_t batch_size) {
  const model_file m = model_file::read(model_path);
  const bool done = for_some_cifar_network([&]<class Trained>(const char* label) {
    using Deployed = deploy::deployed_t<Trained>;
    if (!m.holds<Deployed>()) return false;
    auto deployed = m.load<Deployed>(label);
    std::unique_ptr<Trained> trained;
    if (!checkpoint_file.empty()) {
      trained = std::make_unique<Trained>();
      checkpoint::read(checkpoint_file).restore_network(*trained, label);
    }
    constexpr std::size_t classes = Trained::output_shape::channels;
    const auto test = classes == 10 ? data::read_cifar10(data_dir, data::split::test)
                                    : data::read_cifar100(data_dir, data::split::test);
    fmt::print("{}: {}, {}\n  {} bytes ({:.2f} MB)\n", model_path.string(), label, describe_network<Deployed>().summary,
               m.size(), double(m.size()) / 1e6);
    const evaluation e = evaluate_deployed<Trained>(*deployed, trained.get(), test, m.info(), batch_size);
    fmt::print("  test accuracy {:.2f}% ({} of {} images), {:.0f} images/s at batch {} on {} threads\n",
               100.0 * double(e.correct) / double(e.seen), e.correct, e.seen, double(e.seen) / e.seconds, batch_size,
               kernels::max_threads());
    if (trained)
      fmt::print("  trained network (eval forward): same top-1 on {} of {} images, largest logit difference {:.3g}\n",
                 e.agreeing, e.seen, e.largest_difference);
    return true;
  });
  if (!done) unknown_network("model file " + io::quoted(model_path), m.network());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Export CIFAR networks as model files and evaluate them"};
  app.require_subcommand(1);
  std::filesystem::path checkpoint_file, output, model_path;
  std::string data_dir = std::getenv("NIBBLE_DATA") ? std::getenv("NIBBLE_DATA") : "data/cifar-10-batches-bin";
  std::size_t batch_size = 128;

  auto* ex = app.add_subcommand("export", "Write a model file from a training checkpoint");
  ex->add_option("--checkpoint", checkpoint_file, "A checkpoint of train_cifar10 or train_cifar100")->required();
  ex->add_option("--output", output, "The model file to write")->required();

  auto* ev = app.add_subcommand("evaluate", "Accuracy, images/s and size of a model file on the CIFAR test set");
  ev->add_option("model", model_path, "The model file")->required();
  ev->add_option("--data", data_dir, "Folder with the official binary files (env NIBBLE_DATA)")->capture_default_str();
  ev->add_option("--checkpoint", checkpoint_file, "Also run the trained network of this checkpoint and compare");
  ev->add_option("--batch-size", batch_size, "Images per forward pass")->check(CLI::Range(1, 1 << 16))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    if (ex->parsed()) return export_model(checkpoint_file, output);
    return evaluate_model(model_path, data_dir, checkpoint_file, batch_size);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
  }
  return 1;
}
