// What cifar_model does with one deployable variant of the catalogue:
// export a checkpoint as a model file (and a C header), evaluate a model
// file on the CIFAR test set (against the trained network of its
// checkpoint, if given), classify images. Compiled once per variant
// (tools/catalogue_shard.cpp); cifar_model.cpp picks the variant.
#pragma once
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <nibble/data/augment.hpp>
#include <nibble/data/cifar.hpp>
#include <nibble/deploy/convert.hpp>
#include <nibble/io/c_header.hpp>
#include <nibble/io/checkpoint.hpp>
#include <nibble/io/model_file.hpp>
#include <nibble/kernels/parallel.hpp>
#include <nibble/net/describe.hpp>
#include <nibble/train/metrics.hpp>

namespace nibble::tools {

// A checkpoint of variant V as a model file, and optionally a C99 header.
template <class V>
void export_variant(const checkpoint& c, const std::filesystem::path& checkpoint_file,
                    const std::filesystem::path& output, const std::filesystem::path& header) {
  using Trained = typename V::trained;
  const std::string label(V::network::label);
  auto trained = std::make_unique<Trained>();
  c.restore_network(*trained, label);
  // The trainers feed CIFAR with its usual statistics (data::read_cifar10).
  auto deployed = deploy::convert(*trained, data::cifar_normalisation());

  model_info info{label, {}};
  info.notes.emplace_back("checkpoint", checkpoint_file.filename().string());  // no path: headers get shared
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
  if constexpr (V::has_c_header) {
    if (header.empty()) return;
    std::string prefix = header.stem().string();
    for (char& ch : prefix)
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    save_c_header(header, *deployed, prefix, info);
    fmt::print("{}: C99 header, prefix {}, {} bytes\n", header.string(), prefix, std::filesystem::file_size(header));
  }
}

template <class V>
bool holds_variant(const model_file& m) {
  return m.holds<deploy::deployed_t<typename V::trained>>();
}

// What cifar_model evaluate reports (nibble::evaluation is the library's accuracy and loss).
struct model_evaluation {
  std::size_t correct = 0, agreeing = 0, identical = 0, seen = 0;
  double seconds = 0;
  float largest_difference = 0;
};

inline std::size_t top1(const activation& logits, std::size_t i) {
  std::size_t best = 0;
  for (std::size_t c = 1; c < logits.shape(1); ++c)
    if (logits(i, c, 0, 0) > logits(i, best, 0, 0)) best = c;
  return best;
}

// The deployed network takes the test images' bytes; the trained one, when
// given, takes them normalised as training fed them, with the deployed
// network's own normalisation.
template <class Trained>
model_evaluation evaluate_deployed(deploy::deployed_t<Trained>& deployed, Trained* trained, const data::dataset& test,
                             std::size_t batch_size) {
  const data::image_preparation<std::uint8_t> prepare(test.shape, deployed.template layer<0>().normalisation());
  const data::image_shape& shape = test.shape;
  model_evaluation e;
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

// The CIFAR test set of a network with `classes` outputs.
inline data::dataset cifar_test_set(std::size_t classes, const std::string& data_dir) {
  return classes == 10 ? data::read_cifar10(data_dir, data::split::test)
                       : data::read_cifar100(data_dir, data::split::test,
                                             classes == 20 ? data::cifar100_labels::coarse
                                                           : data::cifar100_labels::fine);
}

// Accuracy, images/s and size of a model file holding variant V; with the
// checkpoint it came from, how far the deployed network agrees with the
// trained one.
template <class V>
void evaluate_variant(const model_file& m, const std::filesystem::path& model_path, const checkpoint* ckpt, const std::string& data_dir,
                      std::size_t batch_size) {
  using Trained = typename V::trained;
  using Deployed = deploy::deployed_t<Trained>;
  const std::string label(V::network::label);
  auto deployed = m.load<Deployed>(label);
  std::unique_ptr<Trained> trained;
  if (ckpt) {
    trained = std::make_unique<Trained>();
    ckpt->restore_network(*trained, label);
  }
  const auto test = cifar_test_set(V::classes, data_dir);
  fmt::print("{}: {}, {}\n  {} bytes ({:.2f} MB)\n", model_path.string(), label, describe_network<Deployed>().summary, m.size(),
             double(m.size()) / 1e6);
  const model_evaluation e = evaluate_deployed<Trained>(*deployed, trained.get(), test, batch_size);
  fmt::print("  test accuracy {:.2f}% ({} of {} images), {:.0f} images/s at batch {} on {} threads\n",
             100.0 * double(e.correct) / double(e.seen), e.correct, e.seen, double(e.seen) / e.seconds, batch_size,
             kernels::max_threads());
  if (trained)
    fmt::print("  trained network (eval forward): same top-1 on {} of {} images, all logits bit for bit equal on {}, "
               "largest logit difference {:.3g}\n",
               e.agreeing, e.seen, e.identical, e.largest_difference);
}

// A binary PPM (P6) of 32x32 pixels with maxval 255, as CIFAR's channel
// planes (1,024 red bytes, then green, then blue).
inline std::vector<std::uint8_t> read_ppm(const std::filesystem::path& file) {
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

inline constexpr const char* cifar10_names[] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                         "dog",      "frog",       "horse", "ship", "truck"};

// The three likeliest classes of each image for a model file of variant V.
template <class V>
void classify_variant(const model_file& m, const std::vector<std::filesystem::path>& images) {
  using Deployed = deploy::deployed_t<typename V::trained>;
  auto deployed = m.load<Deployed>(std::string(V::network::label));
  constexpr std::size_t classes = V::classes;
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
}

}  // namespace nibble::tools
