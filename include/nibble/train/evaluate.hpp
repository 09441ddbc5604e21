#pragma once
// Accuracy and loss of a network on labelled images, and its predictions:
// from a dataset (normalised batch by batch) or from a plain tensor of
// images already prepared as the network takes them (N, C, H, W). Works for
// any network whose forward(images, context) takes floats; a deployed
// network takes the image's bytes instead (examples/cifar_model.cpp).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "nibble/core/context.hpp"
#include "nibble/core/shape.hpp"
#include "nibble/data/augment.hpp"
#include "nibble/data/batch_loader.hpp"
#include "nibble/train/loss.hpp"
#include "nibble/train/progress.hpp"

namespace nibble {

struct evaluation {
  double accuracy = 0;  // top-1, in [0, 1]
  double loss = 0;      // mean softmax cross-entropy
  std::size_t images = 0;
  // With flip: the top-1 of the images as they are, from the same pass, so
  // a run shows what the flip adds. Without flip it equals accuracy.
  double unflipped_accuracy = 0;
};

struct eval_options {
  std::size_t batch_size = 128;
  bool flip = false;      // also see each image mirrored and average the two logits (test-time augmentation)
  bool progress = false;  // a progress bar on stderr
};

namespace detail {

// Logits of one batch in eval mode, with the optional mirrored average;
// valid until the next call, as is unflipped() after a flipped call.
template <class Net>
class eval_forward {
 public:
  const activation& operator()(Net& net, const activation& images, bool flip) {
    const activation& logits = net.forward(images, ctx_);
    if (!flip) return logits;
    unflipped_ = logits;
    data::mirror_images(images, mirrored_);
    averaged_ = (unflipped_ + net.forward(mirrored_, ctx_)) * 0.5f;
    return averaged_;
  }
  const activation& unflipped() const { return unflipped_; }

 private:
  context ctx_{.phase = mode::eval};
  activation mirrored_, unflipped_, averaged_;
};

struct evaluation_sum {
  std::size_t correct = 0, seen = 0;
  double loss = 0;
  activation grad;  // softmax_cross_entropy writes it; evaluation ignores it

  std::size_t unflipped_correct = 0;

  // Returns the batch's hits.
  std::size_t add(const activation& logits, std::span<const std::int32_t> labels) {
    const auto r = softmax_cross_entropy(logits, labels, grad);
    correct += r.correct;
    loss += r.loss * double(labels.size());
    seen += labels.size();
    return r.correct;
  }
  template <class Net>
  void add(const eval_forward<Net>& forward, const activation& logits, std::span<const std::int32_t> labels,
           bool flip) {
    const std::size_t hits = add(logits, labels);
    unflipped_correct += flip ? softmax_cross_entropy(forward.unflipped(), labels, grad).correct : hits;
  }
  double accuracy() const { return seen ? double(correct) / double(seen) : 0.0; }
  evaluation result() const {
    return {accuracy(), seen ? loss / double(seen) : 0.0, seen, seen ? double(unflipped_correct) / double(seen) : 0.0};
  }
};

inline void check_batch_size(std::size_t batch_size) {
  if (batch_size == 0) throw std::invalid_argument("nibble::evaluate: the batch size must be at least 1");
}

// Images first .. first+n of `images` as a batch of their own.
inline void copy_images(const activation& images, std::size_t first, std::size_t n, activation& out) {
  const std::size_t sample = images.shape(1) * images.shape(2) * images.shape(3);
  out.resize({n, images.shape(1), images.shape(2), images.shape(3)});
  std::copy_n(images.data() + first * sample, n * sample, out.data());
}

}  // namespace detail

// Accuracy and loss on a dataset, normalised with its own normalisation.
template <class Net, class Sample>
evaluation evaluate(Net& net, const data::basic_dataset<Sample>& test, const eval_options& o = {}) {
  detail::check_batch_size(o.batch_size);
  data::basic_batch_loader<Sample> loader(test, {.batch_size = o.batch_size, .shuffle = false, .augment = false});
  loader.start_epoch(0);
  detail::eval_forward<Net> forward;
  detail::evaluation_sum sum;
  data::batch b;
  progress_bar bar("  eval", loader.batches_per_epoch(), o.progress);
  for (std::size_t i = 0; loader.next(b); ++i) {
    sum.add(forward, forward(net, b.images, o.flip), b.labels, o.flip);
    bar.update(i + 1, sum.seen, fmt::format("acc {:.2f}%", 100.0 * sum.accuracy()));
  }
  return sum.result();
}

// Accuracy and loss on images prepared as the network takes them, one label
// per image; run in batches of o.batch_size. A wrong shape, label count or
// label is refused (std::invalid_argument).
template <class Net>
evaluation evaluate(Net& net, const activation& images, std::span<const std::int32_t> labels,
                    const eval_options& o = {}) {
  detail::check_batch_size(o.batch_size);
  if (labels.size() != images.shape(0))
    throw std::invalid_argument(fmt::format("nibble::evaluate: {} labels for {} images", labels.size(),
                                            images.shape(0)));
  detail::eval_forward<Net> forward;
  detail::evaluation_sum sum;
  activation part;
  for (std::size_t first = 0; first < images.shape(0); first += o.batch_size) {
    const std::size_t n = std::min(o.batch_size, images.shape(0) - first);
    detail::copy_images(images, first, n, part);
    sum.add(forward, forward(net, part, o.flip), labels.subspan(first, n), o.flip);
  }
  return sum.result();
}

// The top-1 class of each image (prepared as the network takes them).
template <class Net>
std::vector<std::int32_t> predict(Net& net, const activation& images, std::size_t batch_size = 128) {
  detail::check_batch_size(batch_size);
  detail::eval_forward<Net> forward;
  std::vector<std::int32_t> classes;
  classes.reserve(images.shape(0));
  activation part;
  for (std::size_t first = 0; first < images.shape(0); first += batch_size) {
    const std::size_t n = std::min(batch_size, images.shape(0) - first);
    detail::copy_images(images, first, n, part);
    const activation& logits = forward(net, part, false);
    const std::size_t width = logits.shape(1);
    for (std::size_t i = 0; i < n; ++i) {
      const float* z = logits.data() + i * width;
      classes.push_back(std::int32_t(std::max_element(z, z + width) - z));
    }
  }
  return classes;
}

}  // namespace nibble
