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
  // With test-time views (flip, shift): the top-1 of the images as they
  // are, from the same pass, so a run shows what the views add. Without
  // them it equals accuracy.
  double plain_accuracy = 0;
};

// Test-time augmentation: the logits of several views of each image,
// averaged with equal weights. flip adds each view's mirror image; shift s
// adds the image moved by (s, s) and by (-s, -s) pixels, its borders
// reflected (data::shift_images). Both: six views.
struct eval_options {
  std::size_t batch_size = 128;
  bool flip = false;
  int shift = 0;          // pixels; 0: no shifted views
  bool progress = false;  // a progress bar on stderr

  bool plain() const { return !flip && shift == 0; }
};

namespace detail {

// Logits of one batch in eval mode, averaged over the views o asks for;
// valid until the next call, as is plain() (the images as they are) after
// a call with views.
template <class Net>
class eval_forward {
 public:
  explicit eval_forward(const eval_options& o = {}) : o_(o) {}

  const activation& operator()(Net& net, const activation& images) {
    const activation& logits = net.forward(images, ctx_);
    if (o_.plain()) return logits;
    plain_ = logits;
    summed_ = logits;
    std::size_t views = 1;
    auto add = [&](const activation& view) {
      summed_ += net.forward(view, ctx_);
      ++views;
    };
    if (o_.flip) {
      data::mirror_images(images, mirrored_);
      add(mirrored_);
    }
    if (o_.shift > 0)
      for (const int d : {o_.shift, -o_.shift}) {
        data::shift_images(images, d, d, shifted_);
        add(shifted_);
        if (o_.flip) {
          data::mirror_images(shifted_, mirrored_);
          add(mirrored_);
        }
      }
    summed_ *= 1.0f / float(views);
    return summed_;
  }
  const activation& plain() const { return plain_; }
  bool has_views() const { return !o_.plain(); }

 private:
  context ctx_{.phase = mode::eval};
  eval_options o_;
  activation mirrored_, shifted_, plain_, summed_;
};

struct evaluation_sum {
  std::size_t correct = 0, seen = 0;
  double loss = 0;
  activation grad;  // softmax_cross_entropy writes it; evaluation ignores it

  std::size_t plain_correct = 0;

  // Returns the batch's hits.
  std::size_t add(const activation& logits, std::span<const std::int32_t> labels) {
    const auto r = softmax_cross_entropy(logits, labels, grad);
    correct += r.correct;
    loss += r.loss * double(labels.size());
    seen += labels.size();
    return r.correct;
  }
  template <class Net>
  void add(const eval_forward<Net>& forward, const activation& logits, std::span<const std::int32_t> labels) {
    const std::size_t hits = add(logits, labels);
    plain_correct += forward.has_views() ? count_correct(forward.plain(), labels) : hits;
  }
  double accuracy() const { return seen ? double(correct) / double(seen) : 0.0; }
  evaluation result() const {
    return {accuracy(), seen ? loss / double(seen) : 0.0, seen, seen ? double(plain_correct) / double(seen) : 0.0};
  }
};

inline void check_options(const eval_options& o) {
  if (o.batch_size == 0) throw std::invalid_argument("nibble::evaluate: the batch size must be at least 1");
  if (o.shift < 0)
    throw std::invalid_argument("nibble::evaluate: the test-time shift must be 0 or more pixels, got " +
                                std::to_string(o.shift));
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
  detail::check_options(o);
  data::basic_batch_loader<Sample> loader(test, {.batch_size = o.batch_size, .shuffle = false, .augment = false});
  loader.start_epoch(0);
  detail::eval_forward<Net> forward(o);
  detail::evaluation_sum sum;
  data::batch b;
  progress_bar bar("  eval", loader.batches_per_epoch(), o.progress);
  for (std::size_t i = 0; loader.next(b); ++i) {
    sum.add(forward, forward(net, b.images), b.labels);
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
  detail::check_options(o);
  if (labels.size() != images.shape(0))
    throw std::invalid_argument(fmt::format("nibble::evaluate: {} labels for {} images", labels.size(),
                                            images.shape(0)));
  detail::eval_forward<Net> forward(o);
  detail::evaluation_sum sum;
  activation part;
  for (std::size_t first = 0; first < images.shape(0); first += o.batch_size) {
    const std::size_t n = std::min(o.batch_size, images.shape(0) - first);
    detail::copy_images(images, first, n, part);
    sum.add(forward, forward(net, part), labels.subspan(first, n));
  }
  return sum.result();
}

// The top-1 class of each image (prepared as the network takes them).
template <class Net>
std::vector<std::int32_t> predict(Net& net, const activation& images, std::size_t batch_size = 128) {
  detail::check_options({.batch_size = batch_size});
  detail::eval_forward<Net> forward;
  std::vector<std::int32_t> classes;
  classes.reserve(images.shape(0));
  activation part;
  for (std::size_t first = 0; first < images.shape(0); first += batch_size) {
    const std::size_t n = std::min(batch_size, images.shape(0) - first);
    detail::copy_images(images, first, n, part);
    const activation& logits = forward(net, part);
    const std::size_t width = logits.shape(1);
    for (std::size_t i = 0; i < n; ++i) {
      const float* z = logits.data() + i * width;
      classes.push_back(std::int32_t(std::max_element(z, z + width) - z));
    }
  }
  return classes;
}

}  // namespace nibble
