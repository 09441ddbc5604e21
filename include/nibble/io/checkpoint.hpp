#pragma once
// Checkpoints: a network's parameters, batch-norm statistics and optimizer
// state, plus the epoch to resume from. The file names the network type it
// was written by; loading it into another type is refused. Writes go to a
// temporary file that is renamed over the target, so a crash mid-write never
// leaves a half checkpoint behind.
#include <cstdint>
#include <cxxabi.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include "nibble/core/parameter.hpp"

namespace nibble {

struct checkpoint_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A readable name of a type, e.g. for messages and checkpoint headers.
template <class T>
std::string type_name() {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(typeid(T).name(), nullptr, nullptr, &status),
                                              std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(typeid(T).name());
}

namespace detail {
inline constexpr char checkpoint_magic[8] = {'N', 'I', 'B', 'B', 'L', 'E', 'C', '1'};

template <class T>
void write_pod(std::ostream& out, const T& v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof v);
}
template <class T>
T read_pod(std::istream& in, const std::filesystem::path& file) {
  T v{};
  in.read(reinterpret_cast<char*>(&v), sizeof v);
  if (!in) throw checkpoint_error("checkpoint " + file.string() + " is truncated");
  return v;
}
inline void write_tensor(std::ostream& out, const xt::xtensor<float, 1>& t) {
  write_pod<std::uint64_t>(out, t.size());
  out.write(reinterpret_cast<const char*>(t.data()), std::streamsize(t.size() * sizeof(float)));
}
inline void read_tensor(std::istream& in, xt::xtensor<float, 1>& t, const std::filesystem::path& file) {
  const auto n = read_pod<std::uint64_t>(in, file);
  if (n != t.size())
    throw checkpoint_error("checkpoint " + file.string() + " holds a tensor of " + std::to_string(n) +
                           " values where the network has " + std::to_string(t.size()));
  in.read(reinterpret_cast<char*>(t.data()), std::streamsize(n * sizeof(float)));
  if (!in) throw checkpoint_error("checkpoint " + file.string() + " is truncated");
}
}  // namespace detail

template <class Net, class Optimizer>
void save_checkpoint(const std::filesystem::path& file, Net& net, const Optimizer& opt, std::uint32_t epochs_done) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  const std::filesystem::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw checkpoint_error("cannot write checkpoint " + tmp.string());
    out.write(detail::checkpoint_magic, sizeof detail::checkpoint_magic);
    const std::string name = type_name<Net>();
    detail::write_pod<std::uint64_t>(out, name.size());
    out.write(name.data(), std::streamsize(name.size()));
    detail::write_pod<std::uint32_t>(out, epochs_done);
    net.visit_parameters([&](parameter& p) { detail::write_tensor(out, p.value); });
    net.visit_buffers([&](xt::xtensor<float, 1>& b) { detail::write_tensor(out, b); });
    opt.save(out);
    if (!out.flush()) throw checkpoint_error("cannot write checkpoint " + tmp.string());
  }
  std::filesystem::rename(tmp, file);
}

// Loads into net and opt; returns the number of epochs already trained.
template <class Net, class Optimizer>
std::uint32_t load_checkpoint(const std::filesystem::path& file, Net& net, Optimizer& opt) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw checkpoint_error("cannot open checkpoint " + file.string());
  char magic[sizeof detail::checkpoint_magic] = {};
  in.read(magic, sizeof magic);
  if (!in || !std::equal(magic, magic + sizeof magic, detail::checkpoint_magic))
    throw checkpoint_error(file.string() + " is not a nibble checkpoint");
  const auto length = detail::read_pod<std::uint64_t>(in, file);
  if (length > (1u << 20)) throw checkpoint_error("checkpoint " + file.string() + " has a corrupt header");
  std::string name(length, '\0');
  in.read(name.data(), std::streamsize(length));
  const std::string expected = type_name<Net>();
  if (!in || name != expected)
    throw checkpoint_error("checkpoint " + file.string() + " was written by a different network type:\n  file:    " +
                           name + "\n  program: " + expected);
  const auto epochs = detail::read_pod<std::uint32_t>(in, file);
  net.visit_parameters([&](parameter& p) { detail::read_tensor(in, p.value, file); });
  net.visit_buffers([&](xt::xtensor<float, 1>& b) { detail::read_tensor(in, b, file); });
  try {
    opt.load(in);
  } catch (const std::exception& e) {
    throw checkpoint_error("checkpoint " + file.string() + ": " + e.what());
  }
  return epochs;
}

}  // namespace nibble
