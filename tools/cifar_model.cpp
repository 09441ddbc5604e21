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
// looked up in the catalogue (tools/catalogue.hpp).
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <nibble/io/checkpoint.hpp>
#include <nibble/io/model_file.hpp>

#include "catalogue_lookup.hpp"
#include "variant_programs.hpp"

namespace {

using namespace nibble;
using tools::variant_programs;

// The first line of a network's description (its summary) and its first
// layer's, which names the scheme.
std::string described(const std::string& description) {
  const auto first = description.find('\n');
  if (first == std::string::npos) return description;
  const auto second = description.find('\n', first + 1);
  const auto third = second == std::string::npos ? second : description.find('\n', second + 1);
  return description.substr(0, first) + "; first layer: " +
         description.substr(second + 1, third == std::string::npos ? third : third - second - 1);
}

[[noreturn]] void unknown_network(const std::string& what, const std::string& description) {
  std::string known;
  for (std::size_t i = 0; i < tools::variant_count; ++i)
    if (const variant_programs p = tools::programs_of(i); p.flags && p.export_model) known += "\n  " + p.flags();
  throw std::runtime_error(what + " holds a network this program was not built for (" + described(description) +
                           "); it knows the deployable networks of the catalogue (tools/catalogue.hpp) this build "
                           "compiles:" + known);
}

// The built variant whose trained network the checkpoint holds.
std::optional<variant_programs> trained_variant(const checkpoint& c) {
  for (std::size_t i = 0; i < tools::variant_count; ++i)
    if (const variant_programs p = tools::programs_of(i); p.description && p.description() == c.network()) return p;
  return std::nullopt;
}

int export_model(const std::filesystem::path& checkpoint_file, const std::filesystem::path& output,
                 const std::filesystem::path& header) {
  const checkpoint c = checkpoint::read(checkpoint_file);
  const auto v = trained_variant(c);
  if (!v) unknown_network("checkpoint " + io::quoted(checkpoint_file), c.network());
  if (!v->export_model)
    throw std::runtime_error("checkpoint " + io::quoted(checkpoint_file) + " holds " + std::string(v->label) + " (" +
                             v->flags() + "), which cannot be exported: " + std::string(v->no_deploy));
  if (!header.empty() && !v->no_c_header.empty())
    throw std::runtime_error(std::string(v->label) + " (" + v->flags() + ") cannot be exported as a C header: " +
                             std::string(v->no_c_header) + "; export the model file alone (drop --c-header)");
  v->export_model(c, checkpoint_file, output, header);
  return 0;
}

// The built variant whose deployed network the model file holds; with a
// checkpoint, the one it was trained as (integer networks trained in fp32
// and bf16 deploy alike).
variant_programs deployed_variant(const model_file& m, const std::filesystem::path& model_path,
                                  const checkpoint* ckpt) {
  for (std::size_t i = 0; i < tools::variant_count; ++i) {
    const variant_programs p = tools::programs_of(i);
    if (p.holds && p.holds(m) && (!ckpt || p.description() == ckpt->network())) return p;
  }
  unknown_network("model file " + io::quoted(model_path), m.network());
}

int evaluate_model(const std::filesystem::path& model_path, const std::string& data_dir,
                   const std::filesystem::path& checkpoint_file, std::size_t batch_size) {
  const model_file m = model_file::read(model_path);
  std::optional<checkpoint> ckpt;
  if (!checkpoint_file.empty()) ckpt = checkpoint::read(checkpoint_file);
  const checkpoint* trained = ckpt ? &*ckpt : nullptr;
  deployed_variant(m, model_path, trained).evaluate(m, model_path, trained, data_dir, batch_size);
  return 0;
}

int classify(const std::filesystem::path& model_path, const std::vector<std::filesystem::path>& images) {
  const model_file m = model_file::read(model_path);
  deployed_variant(m, model_path, nullptr).classify(m, images);
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
