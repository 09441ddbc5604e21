#pragma once
// Model files: a deployed network as it leaves training — weight codes
// packed as they are held in memory, the per-channel epilogues, the input
// normalisation (the image input layer's tensors) and where the model came
// from. A sectioned_file of kind MODL, version 2, written atomically:
//
//   NETW  the deployed network in words (describe_network): compared on load
//   INFO  model label; notes (key, value): the checkpoint, epochs, accuracy...
//   TENS  u64 count, then per tensor in the network's visit order:
//         role (text), u8 format (deploy::code_format), u8 rank, u64 dims,
//         u64 payload bytes, payload — codes as bytes (4-bit: two per byte,
//         low nibble first), floats as little-endian IEEE 754
//
// A model file loads only into the deployed type it describes. Loading
// checks every tensor's role, format and shape against that type and every
// code against its bit width's levels, so a file forged with a valid
// checksum is refused too.
//
// Version 1 (before the networks took the image's bytes) held the input
// normalisation in INFO and networks that took normalised floats; it is
// refused with a message that says to export the model again.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nibble/deploy/link_code_grids.hpp"
#include "nibble/deploy/weight_matrix.hpp"
#include "nibble/io/byte_order.hpp"
#include "nibble/io/error.hpp"
#include "nibble/io/files.hpp"
#include "nibble/io/network_match.hpp"
#include "nibble/io/sectioned_file.hpp"
#include "nibble/net/describe.hpp"

namespace nibble {

// A model file that is well formed but does not fit what it is loaded into.
class model_file_error : public io::io_error {
 public:
  using io::io_error::io_error;
};

inline constexpr io::file_kind model_file_kind{"MODL", "model file", 2};

// What a model file holds besides the network and its tensors.
struct model_info {
  std::string model;  // a label for messages ("VGG4bit"); may be empty
  std::vector<std::pair<std::string, std::string>> notes;  // provenance, for people
};

namespace detail {
inline constexpr std::size_t model_text_limit = 1u << 20;
inline constexpr std::uint64_t model_count_limit = 1u << 20;

// Every tensor of a deployed network, in order.
template <class Net>
std::vector<deploy::tensor_ref> tensors_of(Net& net) {
  std::vector<deploy::tensor_ref> tensors;
  net.visit_layers([&](auto& layer) {
    if constexpr (requires { layer.fault(); })
      layer.visit_tensors([&](deploy::tensor_ref t) { tensors.push_back(std::move(t)); });
  });
  return tensors;
}

inline std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}
}  // namespace detail

template <class Net>
std::vector<std::byte> encode_model(Net& net, const model_info& info) {
  io::sectioned_file_writer file(model_file_kind);
  io::byte_writer netw;
  netw.text(describe_network<Net>().text());
  file.add("NETW", netw);

  io::byte_writer inf;
  inf.text(info.model);
  inf.u64(info.notes.size());
  for (const auto& [key, value] : info.notes) {
    inf.text(key);
    inf.text(value);
  }
  file.add("INFO", inf);

  io::byte_writer tens;
  const auto tensors = detail::tensors_of(net);
  tens.u64(tensors.size());
  for (const auto& t : tensors) {
    tens.text(t.role);
    tens.u8(std::uint8_t(t.format));
    tens.u8(std::uint8_t(t.shape.size()));
    for (std::size_t d : t.shape) tens.u64(d);
    if (t.format == deploy::code_format::float32) {
      tens.u64(t.floats.size() * sizeof(float));
      for (float v : t.floats) tens.f32(v);
    } else {
      tens.u64(t.codes.size());
      tens.raw(t.codes);
    }
  }
  file.add("TENS", tens);
  return file.finish();
}

// Writes atomically: after a crash `file` is the previous model or this one.
template <class Net>
void save_model(const std::filesystem::path& file, Net& net, const model_info& info) {
  io::write_file_atomically(file, encode_model(net, info), "model file");
}

class model_file {
 public:
  // Reads and verifies a model file; io::io_error says what is wrong.
  static model_file read(const std::filesystem::path& file) {
    return model_file(io::sectioned_file::read(file, model_file_kind));
  }
  static model_file parse(std::vector<std::byte> bytes, std::string name) {
    return model_file(io::sectioned_file::parse(std::move(bytes), std::move(name), model_file_kind));
  }

  const model_info& info() const { return info_; }
  const std::string& network() const { return network_; }  // the description text
  // The file's size in bytes.
  std::size_t size() const { return file_.size(); }

  // Whether the file holds a network of type Net (compare before load()).
  template <class Net>
  bool holds() const {
    return network_ == describe_network<Net>().text();
  }

  // A new Net with the file's tensors. Refuses another network, a tensor of
  // another role, format or shape, and codes outside their levels.
  template <class Net>
  std::unique_ptr<Net> load(std::string_view program_model = {}) const {
    const std::string mismatch = io::network_mismatch(file_.name(), "model file", network_, info_.model,
                                                      describe_network<Net>(), program_model);
    if (!mismatch.empty()) throw model_file_error(mismatch);

    auto net = std::make_unique<Net>();
    const auto tensors = detail::tensors_of(*net);
    io::byte_reader tens = file_.section("TENS");
    const std::uint64_t count = tens.count("number of tensors", detail::model_count_limit);
    if (count != tensors.size())
      throw model_file_error(file_.name() + ": it holds " + std::to_string(count) + " tensors, but the network has " +
                             std::to_string(tensors.size()));
    for (std::size_t k = 0; k < tensors.size(); ++k) read_tensor(tens, k, tensors[k]);
    tens.expect_end();

    std::size_t counted = 0;  // layers with tensors, in file order
    net->visit_layers([&](auto& layer) {
      if constexpr (requires { layer.fault(); }) {
        const std::string fault = layer.fault();
        if (!fault.empty())
          throw model_file_error(file_.name() + ": layer with tensors " + std::to_string(counted) + " (" +
                                 layer.describe() + "): " + fault);
        ++counted;
      }
    });
    deploy::link_code_grids(*net);
    return net;
  }

 private:
  explicit model_file(io::sectioned_file file) : file_(std::move(file)) {
    if (file_.version() < 2)
      throw model_file_error(file_.name() + ": it is a model file of format version " +
                             std::to_string(file_.version()) +
                             ", whose networks take normalised floats; this nibble's networks take the image's "
                             "bytes: export the model again from its checkpoint (cifar_model export)");
    io::byte_reader netw = file_.section("NETW");
    network_ = netw.text("network description", detail::model_text_limit);
    netw.expect_end();

    io::byte_reader inf = file_.section("INFO");
    info_.model = inf.text("model label", 256);
    const std::uint64_t notes = inf.count("number of notes", detail::model_count_limit);
    for (std::uint64_t i = 0; i < notes; ++i) {
      std::string key = inf.text("note name", 256);
      std::string value = inf.text("value of note " + key, detail::model_text_limit);
      info_.notes.emplace_back(std::move(key), std::move(value));
    }
    inf.expect_end();
  }

  void read_tensor(io::byte_reader& r, std::size_t k, const deploy::tensor_ref& expected) const {
    const std::string which = "tensor " + std::to_string(k);
    const std::string role = r.text(which + " role", 256);
    const auto format = deploy::code_format(r.u8(which + " format"));
    std::vector<std::size_t> shape(r.u8(which + " rank"));
    for (auto& d : shape) d = std::size_t(r.u64(which + " dimension"));
    if (role != expected.role || format != expected.format || shape != expected.shape)
      throw model_file_error(file_.name() + ": " + which + " is " + role + " (" + deploy::describe(format) + ", " +
                             detail::shape_text(shape) + "), but the network expects " + expected.role + " (" +
                             deploy::describe(expected.format) + ", " + detail::shape_text(expected.shape) + ")");
    const std::uint64_t bytes = r.u64(which + " size");
    const std::size_t want = format == deploy::code_format::float32 ? expected.floats.size() * sizeof(float)
                                                                    : expected.codes.size();
    if (bytes != want)
      throw model_file_error(file_.name() + ": " + which + " (" + role + ") holds " + std::to_string(bytes) +
                             " bytes, but its shape needs " + std::to_string(want));
    if (format == deploy::code_format::float32) {
      for (float& v : expected.floats) v = r.f32(which);
    } else {
      const auto raw = r.raw(want, which);
      std::copy(raw.begin(), raw.end(), expected.codes.begin());
    }
  }

  io::sectioned_file file_;
  std::string network_;
  model_info info_;
};

// Reads, verifies and loads in one call.
template <class Net>
std::unique_ptr<Net> load_model(const std::filesystem::path& file, model_info* info = nullptr) {
  const model_file m = model_file::read(file);
  if (info) *info = m.info();
  return m.load<Net>();
}

}  // namespace nibble
