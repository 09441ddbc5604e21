// Model files for the networks train_cifar10 and train_cifar100 make.
//
//   cifar_model export --checkpoint runs/a/last.ckpt --output vgg4bit.nibble [--c-header vgg4bit.h]
//   cifar_model evaluate vgg4bit.nibble [--data DIR] [--checkpoint runs/a/last.ckpt]
//   cifar_model classify vgg4bit.nibble cat.ppm [more.ppm ...]
//
// export turns a training checkpoint into a model file: weight codes packed
// at their bit width, batch norm folded, no optimizer state; optionally also
// a C99 header with the same network. evaluate runs a model file on the
// CIFAR test set and reports accuracy, images/s and size; given the
// checkpoint it came from, it also runs the trained network's eval forward
// on every image and counts where the two top-1 answers (and, for integer
// networks, all the logits bit for bit) agree. classify prints the three
// likeliest classes of 32x32 binary PPM images.
//
// Which network a file holds is read from the file (its description) and
// matched against the network types compiled in below.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <nibble/data/augment.hpp>
#include <nibble/data/cifar.hpp>
#include <nibble/deploy/convert.hpp>
#include <nibble/io/c_header.hpp>
#include <nibble/io/checkpoint.hpp>
#include <nibble/io/model_file.hpp>
#include <nibble/kernels/parallel.hpp>
#include <nibble/net/describe.hpp>
#include <nibble/net/fast_vgg.hpp>
#include <nibble/net/simple_resnet4bit.hpp>
#include <nibble/net/vgg4bit.hpp>
#include <nibble/quant/presets.hpp>
#include <nibble/train/metrics.hpp>

namespace {

using namespace nibble;

// f.template operator()<Trained, CHeader>(label) for every network the CIFAR
// trainers build from --model, --bits, --activations and --arithmetic (not
// train_cifar10's other --scheme values), until one returns true. Returns
// whether one did. CHeader says whether the network can be exported as a C
// header (quantized weights, no residual blocks).
template <class F>
bool for_some_cifar_network(F&& f) {
  auto by_scheme = [&]<std::size_t Classes, class S>() {
    if constexpr (Classes == 10)  // FastVGG: train_cifar10 only
      if (f.template operator()<fast_vgg<Classes, S>, S::quantized>("FastVGG")) return true;
    return f.template operator()<vgg4bit<Classes, S>, S::quantized>("VGG4bit") ||
           f.template operator()<simple_resnet4bit<Classes, S>, false>("SimpleResNet4bit");
  };
  auto by_bits = [&]<std::size_t Classes, int Bits>() {
    using S = scheme_for_bits_t<Bits>;
    return by_scheme.template operator()<Classes, S>() ||
           by_scheme.template operator()<Classes, with_arithmetic_t<S, bf16_arithmetic>>();
  };
  // Integer networks (quantized activations): VGG4bit with the three
  // presets, on CIFAR-10 (the only trainer that builds them).
  auto by_integer = [&]<std::size_t Classes, class S>() {
    return f.template operator()<vgg4bit<Classes, S>, true>("VGG4bit") ||
           f.template operator()<vgg4bit<Classes, with_arithmetic_t<S, bf16_arithmetic>>, true>("VGG4bit");
  };
  auto by_classes = [&]<std::size_t Classes>() {
    return by_bits.template operator()<Classes, 4>() || by_bits.template operator()<Classes, 8>() ||
           by_bits.template operator()<Classes, 32>();
  };
  return by_classes.template operator()<10>() || by_integer.template operator()<10, w4a8>() ||
         by_integer.template operator()<10, w4a4>() || by_integer.template operator()<10, w8a8>() ||
         by_classes.template operator()<100>() || by_classes.template operator()<20>();
}

[[noreturn]] void unknown_network(const std::string& what, const std::string& description) {
  const auto end = description.find('\n');
  throw std::runtime_error(what + " holds a network this program was not built for (" + description.substr(0, end) +
                           "); it knows VGG4bit and SimpleResNet4bit with 10, 20 (CIFAR-100's coarse labels) or "
                           "100 classes, 4-, 8- or 32-bit weights, fp32 or bf16 arithmetic, VGG4bit for CIFAR-10 "
                           "with W4A8, W4A4 or W8A8, and FastVGG for CIFAR-10 with 4-, 8- or 32-bit weights (WhitenedVGG "
                           "has no deployed form yet)");
}

int export_model(const std::filesystem::path& checkpoint_file, const std::filesystem::path& output,
                 const std::filesystem::path& header) {
  const checkpoint c = checkpoint::read(checkpoint_file);
  const bool done = for_some_cifar_network([&]<class Trained, bool CHeader>(const char* label) {
    if (c.network() != describe_network<Trained>().text()) return false;
    auto trained = std::make_unique<Trained>();
    c.restore_network(*trained, label);
    // The trainers feed CIFAR with its usual statistics (data::read_cifar10).
    auto deployed = deploy::convert(*trained, data::cifar_normalisation());

    model_info info{label, {}};
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
    if (!header.empty()) {
      if constexpr (CHeader) {
        std::string prefix = header.stem().string();
        for (char& ch : prefix)
          if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        save_c_header(header, *deployed, prefix, info);
        fmt::print("{}: C99 header, prefix {}, {} bytes\n", header.string(), prefix, std::filesystem::file_size(header));
      } else {
        throw std::runtime_error(std::string(label) + " with " + describe_network<Trained>().summary +
                                 " cannot be exported as a C header (float weights or residual blocks)");
      }
    }
    return true;
  });
  if (!done) unknown_network("checkpoint " + io::quoted(checkpoint_file), c.network());
  return 0;
}

struct evaluation {
  std::size_t correct = 0, agreeing = 0, identical = 0, seen = 0;
  double seconds = 0;
  float largest_difference = 0;
};

std::size_t top1(const activation& logits, std::size_t i) {
  std::size_t best = 0;
  for (std::size_t c = 1; c < logits.shape(1); ++c)
    if (logits(i, c, 0, 0) > logits(i, best, 0, 0)) best = c;
  return best;
}

// The deployed network takes the test images' bytes; the trained one, when
// given, takes them normalised as training fed them, with the deployed
// network's own normalisation.
template <class Trained>
evaluation evaluate_deployed(deploy::deployed_t<Trained>& deployed, Trained* trained, const data::dataset& test,
                             std::size_t batch_size) {
  const data::image_preparation<std::uint8_t> prepare(test.shape, deployed.template layer<0>().normalisation());
  const data::image_shape& shape = test.shape;
  evaluation e;
  context eval{mode::eval};
  image_batch images;
  activation normalised;
  for (std::size_t start = 0; start < test.size(); start += batch_size) {
    const std::size_t n = std::min(batch_size, test.size() - start);
    images.resize({n, shape.channels, shape.height, shape.width});
    std::copy_n(test.image(start), n * shape.size(), images.data());
    const auto t0 = std::chrono::steady_clock::now();
    const activation& logits = deployed.forward(images, eval);
    e.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (std::size_t i = 0; i < n; ++i) e.correct += top1(logits, i) == std::size_t(test.labels[start + i]);
    if (trained) {
      normalised.resize({n, shape.channels, shape.height, shape.width});
      for (std::size_t i = 0; i < n; ++i)
        prepare.normalise(test.image(start + i), normalised.data() + i * shape.size());
      const activation& reference = trained->forward(normalised, eval);
      for (std::size_t i = 0; i < n; ++i) {
        e.agreeing += top1(logits, i) == top1(reference, i);
        bool same = true;
        for (std::size_t c = 0; c < logits.shape(1); ++c) {
          e.largest_difference = std::max(e.largest_difference, std::fabs(logits(i, c, 0, 0) - reference(i, c, 0, 0)));
          same = same && logits(i, c, 0, 0) == reference(i, c, 0, 0);
        }
        e.identical += same;
      }
    }
    e.seen += n;
  }
  return e;
}

int evaluate_model(const std::filesystem::path& model_path, const std::string& data_dir,
                   const std::filesystem::path& checkpoint_file, std::size_t batch_size) {
  const model_file m = model_file::read(model_path);
  std::optional<checkpoint> ckpt;
  if (!checkpoint_file.empty()) ckpt = checkpoint::read(checkpoint_file);
  const bool done = for_some_cifar_network([&]<class Trained, bool>(const char* label) {
    using Deployed = deploy::deployed_t<Trained>;
    if (!m.holds<Deployed>()) return false;
    // Integer networks trained in fp32 and bf16 deploy alike: the
    // checkpoint, when given, says which trained network this is.
    if (ckpt && ckpt->network() != describe_network<Trained>().text()) return false;
    auto deployed = m.load<Deployed>(label);
    std::unique_ptr<Trained> trained;
    if (ckpt) {
      trained = std::make_unique<Trained>();
      ckpt->restore_network(*trained, label);
    }
    constexpr std::size_t classes = Trained::output_shape::channels;
    const auto test = classes == 10 ? data::read_cifar10(data_dir, data::split::test)
                                    : data::read_cifar100(data_dir, data::split::test,
                                                          classes == 20 ? data::cifar100_labels::coarse
                                                                        : data::cifar100_labels::fine);
    fmt::print("{}: {}, {}\n  {} bytes ({:.2f} MB)\n", model_path.string(), label, describe_network<Deployed>().summary,
               m.size(), double(m.size()) / 1e6);
    const evaluation e = evaluate_deployed<Trained>(*deployed, trained.get(), test, batch_size);
    fmt::print("  test accuracy {:.2f}% ({} of {} images), {:.0f} images/s at batch {} on {} threads\n",
               100.0 * double(e.correct) / double(e.seen), e.correct, e.seen, double(e.seen) / e.seconds, batch_size,
               kernels::max_threads());
    if (trained)
      fmt::print("  trained network (eval forward): same top-1 on {} of {} images, all logits bit for bit equal on {}, "
                 "largest logit difference {:.3g}\n",
                 e.agreeing, e.seen, e.identical, e.largest_difference);
    return true;
  });
  if (!done) unknown_network("model file " + io::quoted(model_path), m.network());
  return 0;
}

// A binary PPM (P6) of 32x32 pixels with maxval 255, as CIFAR's channel
// planes (1,024 red bytes, then green, then blue).
std::vector<std::uint8_t> read_ppm(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open image " + io::quoted(file));
  std::string magic;
  std::size_t width = 0, height = 0, maxval = 0;
  auto field = [&](auto& v) {
    in >> std::ws;
    while (in.peek() == '#') {  // comments
      std::string line;
      std::getline(in, line);
      in >> std::ws;
    }
    in >> v;
  };
  field(magic);
  field(width);
  field(height);
  field(maxval);
  const data::image_shape cifar = data::cifar_image;
  if (!in || magic != "P6" || width != cifar.width || height != cifar.height || maxval != 255)
    throw std::runtime_error("image " + io::quoted(file) + " is not a binary PPM (P6) of 32x32 pixels with maxval 255");
  in.get();  // the one whitespace byte before the pixels
  std::vector<std::uint8_t> rgb(cifar.size()), planes(cifar.size());
  if (!in.read(reinterpret_cast<char*>(rgb.data()), std::streamsize(rgb.size())))
    throw std::runtime_error("image " + io::quoted(file) + " ends before its 3,072 pixel bytes");
  const std::size_t pixels = cifar.plane();
  for (std::size_t p = 0; p < pixels; ++p)
    for (std::size_t c = 0; c < 3; ++c) planes[c * pixels + p] = rgb[3 * p + c];
  return planes;
}

constexpr const char* cifar10_names[] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                         "dog",      "frog",       "horse", "ship", "truck"};

int classify(const std::filesystem::path& model_path, const std::vector<std::filesystem::path>& images) {
  const model_file m = model_file::read(model_path);
  const bool done = for_some_cifar_network([&]<class Trained, bool>(const char* label) {
    using Deployed = deploy::deployed_t<Trained>;
    if (!m.holds<Deployed>()) return false;
    auto deployed = m.load<Deployed>(label);
    constexpr std::size_t classes = Trained::output_shape::channels;
    image_batch x({1, 3, 32, 32});
    context eval{mode::eval};
    for (const auto& file : images) {
      const std::vector<std::uint8_t> planes = read_ppm(file);
      std::copy(planes.begin(), planes.end(), x.begin());
      const activation& logits = deployed->forward(x, eval);
      // Softmax, then the three largest.
      std::vector<std::pair<double, std::size_t>> p(classes);
      double largest = logits(0, 0, 0, 0), total = 0;
      for (std::size_t c = 1; c < classes; ++c) largest = std::max(largest, double(logits(0, c, 0, 0)));
      for (std::size_t c = 0; c < classes; ++c) total += p[c].first = std::exp(double(logits(0, c, 0, 0)) - largest);
      for (std::size_t c = 0; c < classes; ++c) p[c] = {p[c].first / total, c};
      std::partial_sort(p.begin(), p.begin() + 3, p.end(), std::greater<>());
      fmt::print("{}:", file.string());
      for (std::size_t k = 0; k < 3; ++k)
        fmt::print("  {} {:.1f}%", classes == 10 ? cifar10_names[p[k].second] : fmt::format("class {}", p[k].second),
                   100.0 * p[k].first);
      fmt::print("\n");
    }
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
  std::filesystem::path header;
  ex->add_option("--c-header", header, "Also write the network as a C99 header (its name gives the prefix)");

  auto* ev = app.add_subcommand("evaluate", "Accuracy, images/s and size of a model file on the CIFAR test set");
  ev->add_option("model", model_path, "The model file")->required();
  ev->add_option("--data", data_dir, "Folder with the official binary files (env NIBBLE_DATA)")->capture_default_str();
  ev->add_option("--checkpoint", checkpoint_file, "Also run the trained network of this checkpoint and compare");
  ev->add_option("--batch-size", batch_size, "Images per forward pass")->check(CLI::Range(1, 1 << 16))->capture_default_str();
  auto* cl = app.add_subcommand("classify", "The three likeliest classes of 32x32 images (binary PPM)");
  std::vector<std::filesystem::path> images;
  cl->add_option("model", model_path, "The model file")->required();
  cl->add_option("images", images, "Images: binary PPM (P6), 32x32, maxval 255")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    if (ex->parsed()) return export_model(checkpoint_file, output, header);
    if (cl->parsed()) return classify(model_path, images);
    return evaluate_model(model_path, data_dir, checkpoint_file, batch_size);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
  }
  return 1;
}
