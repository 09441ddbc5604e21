#pragma once
// Checkpoints: everything needed to continue a training run exactly —
// parameters, batch-norm statistics and optimizer state — together with
// what the run is (the epochs done, its settings and its per-epoch history)
// and a description of the network it belongs to. It is a sectioned_file of
// kind CKPT, written atomically:
//
//   NETW  the network in words (describe_network): compared on load
//   RUN   epochs done, model label, settings (key, value), history (opaque:
//         the trainer's per-epoch records)
//   TENS  every parameter, then every buffer, as float arrays in visit order
//   OPTM  the optimizer's name, then its state
//   WAVG  only in runs that average their weights: the average's state
//         (opaque here: the trainer's weight_average writes and reads it)
//
// Loading is two steps, so a caller can look before it changes anything:
// checkpoint::read verifies the file (signature, size, checksum, sections);
// restore() then checks that it fits the network and optimizer, decodes
// every tensor, and only then overwrites them.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nibble/core/parameter.hpp"
#include "nibble/io/byte_order.hpp"
#include "nibble/io/error.hpp"
#include "nibble/io/files.hpp"
#include "nibble/io/network_match.hpp"
#include "nibble/io/network_tensors.hpp"
#include "nibble/io/sectioned_file.hpp"
#include "nibble/net/describe.hpp"

namespace nibble {

// A checkpoint that is well formed but does not fit what it is loaded into.
class checkpoint_error : public io::io_error {
 public:
  using io::io_error::io_error;
};

inline constexpr io::file_kind checkpoint_kind{"CKPT", "checkpoint", 1};

// What a checkpoint holds besides the tensors.
struct checkpoint_run {
  std::uint64_t epochs_done = 0;
  std::string model;  // a label for messages ("VGG4bit"); may be empty
  std::vector<std::pair<std::string, std::string>> settings;
  std::vector<std::byte> history;
  std::vector<std::byte> weight_average;  // empty: the run keeps no average
};

namespace detail {
inline constexpr std::size_t checkpoint_text_limit = 1u << 20;
inline constexpr std::uint64_t checkpoint_count_limit = 1u << 20;
}  // namespace detail

template <class Net, class Optimizer>
std::vector<std::byte> encode_checkpoint(Net& net, const Optimizer& opt, const checkpoint_run& run) {
  io::sectioned_file_writer file(checkpoint_kind);
  io::byte_writer netw;
  netw.text(describe_network<Net>().text());
  file.add("NETW", netw);

  io::byte_writer r;
  r.u64(run.epochs_done);
  r.text(run.model);
  r.u64(run.settings.size());
  for (const auto& [key, value] : run.settings) {
    r.text(key);
    r.text(value);
  }
  r.u64(run.history.size());
  r.raw(run.history);
  file.add("RUN ", r);

  io::byte_writer tens;
  io::write_network_tensors(tens, net);
  file.add("TENS", tens);

  io::byte_writer optm;
  optm.text(Optimizer::name);
  opt.save(optm);
  file.add("OPTM", optm);

  if (!run.weight_average.empty()) {
    io::byte_writer wavg;
    wavg.raw(run.weight_average);
    file.add("WAVG", wavg);
  }
  return file.finish();
}

// Writes atomically: after a crash `file` is the previous checkpoint or this
// one, never a mixture.
template <class Net, class Optimizer>
void save_checkpoint(const std::filesystem::path& file, Net& net, const Optimizer& opt, const checkpoint_run& run) {
  const std::vector<std::byte> bytes = encode_checkpoint(net, opt, run);
  io::write_file_atomically(file, bytes, "checkpoint");
}

class checkpoint {
 public:
  // Reads and verifies a checkpoint file; io::io_error says what is wrong.
  static checkpoint read(const std::filesystem::path& file) {
    return checkpoint(io::sectioned_file::read(file, checkpoint_kind));
  }
  // The same from bytes in memory; `name` introduces messages.
  static checkpoint parse(std::vector<std::byte> bytes, std::string name) {
    return checkpoint(io::sectioned_file::parse(std::move(bytes), std::move(name), checkpoint_kind));
  }

  const checkpoint_run& run() const { return run_; }
  const std::string& network() const { return network_; }  // the description text
  // The bytes of one section as written (tests compare TENS and OPTM).
  std::span<const std::byte> section_bytes(std::string_view tag) const { return file_.section_bytes(tag); }

  // Loads the tensors into net and the state into opt. Refuses, changing
  // nothing, a checkpoint of another network or optimizer. `program_model`
  // labels this program's network in the message ("VGG4bit").
  template <class Net, class Optimizer>
  void restore(Net& net, Optimizer& opt, std::string_view program_model = {}) const {
    check_network(describe_network<Net>(), program_model);
    const std::vector<std::size_t> sizes = parameter_sizes(net);
    const auto tensors = read_tensors(net);

    io::byte_reader optm = file_.section("OPTM");
    const std::string name = optm.text("optimizer name", 64);
    if (name != Optimizer::name)
      throw checkpoint_error(file_.name() + ": it holds the state of the " + name + " optimizer, but this run uses " +
                             std::string(Optimizer::name) + "; an optimizer's state cannot be carried over to another");
    Optimizer staged = opt;
    staged.load(optm, sizes);
    optm.expect_end();

    io::assign_network_tensors(net, tensors);
    opt = std::move(staged);
  }

  // Loads only the parameters and batch-norm statistics: for evaluating or
  // exporting a trained network, which needs no optimizer.
  template <class Net>
  void restore_network(Net& net, std::string_view program_model = {}) const {
    check_network(describe_network<Net>(), program_model);
    io::assign_network_tensors(net, read_tensors(net));
  }

 private:
  explicit checkpoint(io::sectioned_file file) : file_(std::move(file)) {
    io::byte_reader netw = file_.section("NETW");
    network_ = netw.text("network description", detail::checkpoint_text_limit);
    netw.expect_end();

    io::byte_reader r = file_.section("RUN ");
    run_.epochs_done = r.u64("epochs done");
    run_.model = r.text("model label", 256);
    const std::uint64_t settings = r.count("number of settings", detail::checkpoint_count_limit);
    for (std::uint64_t i = 0; i < settings; ++i) {
      std::string key = r.text("setting name", 256);
      std::string value = r.text("value of setting " + key, detail::checkpoint_text_limit);
      run_.settings.emplace_back(std::move(key), std::move(value));
    }
    const std::uint64_t history = r.count("history length", r.remaining());
    const auto bytes = r.raw(std::size_t(history), "history");
    run_.history.assign(bytes.begin(), bytes.end());
    r.expect_end();
    if (file_.has("WAVG")) {
      const auto average = file_.section_bytes("WAVG");
      run_.weight_average.assign(average.begin(), average.end());
    }
  }

  template <class Net>
  std::vector<std::vector<float>> read_tensors(Net& net) const {
    io::byte_reader tens = file_.section("TENS");
    return io::read_network_tensors(tens, net);
  }
  void check_network(const network_description& program, std::string_view program_model) const {
    const std::string mismatch =
        io::network_mismatch(file_.name(), "checkpoint", network_, run_.model, program, program_model);
    if (!mismatch.empty()) throw checkpoint_error(mismatch);
  }

  io::sectioned_file file_;
  std::string network_;
  checkpoint_run run_;
};

// Reads, verifies and restores in one call; returns what the run recorded.
template <class Net, class Optimizer>
checkpoint_run load_checkpoint(const std::filesystem::path& file, Net& net, Optimizer& opt) {
  const checkpoint c = checkpoint::read(file);
  c.restore(net, opt);
  return c.run();
}

}  // namespace nibble
