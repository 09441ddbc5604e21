#pragma once
// What the checkpoint, trainer and fault tests share: a small network, a
// data set it can learn in a few epochs, fresh folders, and file helpers.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "nibble/data/cifar.hpp"
#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/dropout.hpp"
#include "nibble/layers/global_avg_pool.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/layers/relu.hpp"
#include "nibble/net/sequential.hpp"

namespace fixtures {

template <class S>
using small_net = nibble::sequential<nibble::input<3, 32, 32>, nibble::conv2d<4, 3, S, 2>, nibble::batch_norm,
                                     nibble::relu, nibble::global_avg_pool, nibble::dropout<0.25f>,
                                     nibble::linear<2, S>>;

// An empty folder of its own under the system's temporary folder.
inline std::filesystem::path fresh_folder(const std::string& name) {
  const auto p = std::filesystem::temp_directory_path() / ("nibble_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

// Images whose label is whether the red channel is brighter than the blue one.
inline nibble::data::dataset colour_dataset(std::size_t n, std::uint64_t seed) {
  nibble::data::dataset d;
  d.classes = 2;
  d.shape = nibble::data::cifar_image;
  d.norm = nibble::data::cifar_normalisation();
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  d.pixels.resize(n * nibble::data::cifar_image_bytes);
  d.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int red = byte(rng), blue = byte(rng);
    d.labels[i] = red > blue ? 1 : 0;
    std::uint8_t* img = d.pixels.data() + i * nibble::data::cifar_image_bytes;
    for (std::size_t p = 0; p < 1024; ++p) {
      img[p] = std::uint8_t(red);
      img[1024 + p] = std::uint8_t(byte(rng));
      img[2048 + p] = std::uint8_t(blue);
    }
  }
  return d;
}

template <class Net>
std::vector<float> all_values(Net& net) {
  std::vector<float> v;
  net.visit_parameters([&](nibble::parameter& p) { v.insert(v.end(), p.value.begin(), p.value.end()); });
  net.visit_buffers([&](xt::xtensor<float, 1>& b) { v.insert(v.end(), b.begin(), b.end()); });
  return v;
}

inline std::string file_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}
inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::string line;
  for (char c : text) {
    if (c == '\n') {
      out.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) out.push_back(line);
  return out;
}

}  // namespace fixtures
