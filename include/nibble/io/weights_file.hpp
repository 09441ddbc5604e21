#pragma once
// Weights files: a trained network's parameters and batch-norm statistics
// without optimizer state or run history, for sharing a network, starting
// another run from it, or evaluating it. A sectioned_file of kind WGHT,
// written atomically:
//
//   NETW  the network in words (describe_network) and a label ("VGG4bit"):
//         compared on load, so a file loads only into the network it holds
//   TENS  every parameter, then every buffer (io/network_tensors.hpp)
//
// load_weights changes nothing unless the whole file fits the network.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "nibble/io/byte_order.hpp"
#include "nibble/io/error.hpp"
#include "nibble/io/files.hpp"
#include "nibble/io/network_match.hpp"
#include "nibble/io/network_tensors.hpp"
#include "nibble/io/sectioned_file.hpp"
#include "nibble/net/describe.hpp"

namespace nibble {

inline constexpr io::file_kind weights_file_kind{"WGHT", "weights file", 1};

// A well-formed weights file of another network.
class weights_mismatch : public io::io_error {
 public:
  using io::io_error::io_error;
};

template <class Net>
std::vector<std::byte> encode_weights(Net& net, std::string_view label = {}) {
  io::sectioned_file_writer file(weights_file_kind);
  io::byte_writer netw;
  netw.text(describe_network<Net>().text());
  netw.text(label);
  file.add("NETW", netw);
  io::byte_writer tens;
  io::write_network_tensors(tens, net);
  file.add("TENS", tens);
  return file.finish();
}

// Writes atomically: after a crash `file` holds the old weights or the new.
template <class Net>
void save_weights(const std::filesystem::path& file, Net& net, std::string_view label = {}) {
  io::write_file_atomically(file, encode_weights(net, label), "weights file");
}

// Loads verified weights (io::io_error says what is wrong with a damaged
// file; weights_mismatch names both networks when it holds another).
// `label` names this program's network in messages.
template <class Net>
void load_weights(const io::sectioned_file& file, Net& net, std::string_view label = {}) {
  io::byte_reader netw = file.section("NETW");
  const std::string network = netw.text("network description", 1u << 20);
  const std::string file_label = netw.text("label", 256);
  netw.expect_end();
  const std::string mismatch =
      io::network_mismatch(file.name(), "weights file", network, file_label, describe_network<Net>(), label);
  if (!mismatch.empty()) throw weights_mismatch(mismatch);
  io::byte_reader tens = file.section("TENS");
  io::assign_network_tensors(net, io::read_network_tensors(tens, net));
}

template <class Net>
void load_weights(const std::filesystem::path& file, Net& net, std::string_view label = {}) {
  load_weights(io::sectioned_file::read(file, weights_file_kind), net, label);
}

}  // namespace nibble
