#pragma once
// A labelled set of images of any size: C x H x W samples, each stored
// channel-major (C planes, each row-major), as bytes (basic_dataset<uint8_t>,
// the usual `dataset`) or floats (`float_dataset`). The readers (cifar.hpp,
// idx.hpp) produce one; the batch loader, train() and evaluate() take any.
//
// A dataset also carries the normalisation its samples are fed with, so the
// training and the test set cannot silently disagree: train() refuses two
// sets whose normalisations differ.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace nibble::data {

// Everything that goes wrong while reading or preparing data: the message
// names the file or the dataset and says what is wrong with it.
class data_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The size of one sample.
struct image_shape {
  std::size_t channels = 0, height = 0, width = 0;

  std::size_t size() const { return channels * height * width; }
  std::size_t plane() const { return height * width; }
  std::string text() const {  // "3x32x32"
    return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
  }
  friend bool operator==(const image_shape&, const image_shape&) = default;
};

// Per-channel statistics in units of a whole sample range (bytes are read
// as v / 255, floats as they are): a sample v of channel c is fed to the
// network as (v - mean[c]) / std[c].
struct normalisation {
  std::vector<float> mean, std;

  bool empty() const { return mean.empty(); }
  friend bool operator==(const normalisation&, const normalisation&) = default;
};

// The sample value that is 1 in a normalisation's units.
template <class Sample>
inline constexpr float sample_range = std::is_same_v<Sample, std::uint8_t> ? 255.0f : 1.0f;

// How one channel's samples become the network's floats:
// (v / range − mean) / std as one fused multiply-add, v · scale + bias.
// Fused by hand (std::fma), so the float does not depend on whether a
// compiler contracts the expression: training, evaluation and a deployed
// network's input table (deploy/image_input.hpp) compute the same floats.
struct channel_normaliser {
  float scale, bias;
  float operator()(float v) const { return std::fma(v, scale, bias); }
};
template <class Sample>
channel_normaliser normaliser_of(float mean, float std) {
  return {1.0f / (sample_range<Sample> * std), -mean / std};
}
template <class Sample>
channel_normaliser normaliser_of(const normalisation& n, std::size_t channel) {
  return normaliser_of<Sample>(n.mean[channel], n.std[channel]);
}

template <class Sample>
concept image_sample = std::is_same_v<Sample, std::uint8_t> || std::is_same_v<Sample, float>;

template <image_sample Sample>
struct basic_dataset {
  using sample_type = Sample;

  image_shape shape;
  std::vector<Sample> pixels;        // size() * shape.size() samples, each image CHW
  std::vector<std::int32_t> labels;  // one per image, in [0, classes)
  int classes = 0;
  normalisation norm;  // set by a reader that knows the data's statistics; else by the user

  std::size_t size() const { return labels.size(); }
  const Sample* image(std::size_t i) const { return pixels.data() + i * shape.size(); }
};

using dataset = basic_dataset<std::uint8_t>;
using float_dataset = basic_dataset<float>;

// The mean and standard deviation of each channel over every image, in
// normalisation units: what a dataset without published statistics is
// normalised with (computed on the training set, used for both sets).
template <class Sample>
normalisation channel_statistics(const basic_dataset<Sample>& d) {
  const std::size_t channels = d.shape.channels, plane = d.shape.plane();
  normalisation n;
  n.mean.assign(channels, 0.0f);
  n.std.assign(channels, 1.0f);
  const double count = double(d.size()) * double(plane);
  if (count == 0) return n;
  for (std::size_t c = 0; c < channels; ++c) {
    double sum = 0, squares = 0;  // doubles: 47 million bytes would swamp a float sum
    for (std::size_t i = 0; i < d.size(); ++i) {
      const Sample* p = d.image(i) + c * plane;
      for (std::size_t k = 0; k < plane; ++k) {
        const double v = double(p[k]) / double(sample_range<Sample>);
        sum += v;
        squares += v * v;
      }
    }
    const double mean = sum / count, variance = std::max(0.0, squares / count - mean * mean);
    n.mean[c] = float(mean);
    // A constant channel (up to rounding) is only centred.
    n.std[c] = variance > 1e-12 ? float(std::sqrt(variance)) : 1.0f;
  }
  return n;
}

// Refuses a dataset that cannot be fed to a network: sizes that disagree,
// labels out of range, a normalisation missing or not one per channel, a
// zero or non-finite deviation. `what` names it ("the training set").
template <class Sample>
void check_dataset(const basic_dataset<Sample>& d, const std::string& what) {
  const std::string head = "nibble::data: " + what + " ";
  if (d.shape.size() == 0)
    throw data_error(head + "has no image shape (channels x height x width is " + d.shape.text() + ")");
  if (d.pixels.size() != d.size() * d.shape.size())
    throw data_error(head + "is inconsistent: " + std::to_string(d.size()) + " labels of " + d.shape.text() +
                     " images need " + std::to_string(d.size() * d.shape.size()) + " samples, got " +
                     std::to_string(d.pixels.size()));
  if (d.classes < 1) throw data_error(head + "has no classes (classes is " + std::to_string(d.classes) + ")");
  for (std::size_t i = 0; i < d.size(); ++i)
    if (d.labels[i] < 0 || d.labels[i] >= d.classes)
      throw data_error(head + "has label " + std::to_string(d.labels[i]) + " at image " + std::to_string(i) +
                       ", outside 0.." + std::to_string(d.classes - 1));
  if (d.norm.empty())
    throw data_error(head + "has no normalisation: set its norm, for example to data::channel_statistics of the "
                            "training set, and give the test set the same");
  if (d.norm.mean.size() != d.shape.channels || d.norm.std.size() != d.shape.channels)
    throw data_error(head + "has a normalisation of " + std::to_string(d.norm.mean.size()) + " means and " +
                     std::to_string(d.norm.std.size()) + " deviations for " + std::to_string(d.shape.channels) +
                     " channels");
  for (std::size_t c = 0; c < d.shape.channels; ++c)
    if (!std::isfinite(d.norm.mean[c]) || !std::isfinite(d.norm.std[c]) || !(d.norm.std[c] > 0))
      throw data_error(head + "has an unusable normalisation for channel " + std::to_string(c) + " (mean " +
                       std::to_string(d.norm.mean[c]) + ", deviation " + std::to_string(d.norm.std[c]) +
                       "): the mean must be finite and the deviation above 0");
}

}  // namespace nibble::data
