#pragma once
// Accuracy and loss of a network on labelled images, and its predictions:
// from a dataset or from a plain tensor of images (N, C, H, W). A trained
// network takes floats: a dataset is normalised batch by batch, a tensor
// must be prepared as the network takes it. A deployed network
// (deploy/convert.hpp) takes the image's bytes and normalises them itself:
// it is evaluated on a byte dataset or an image_batch, and giving it floats
// is a compile error.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
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
template <class Net, class = void>
struct takes_image_bytes : std::false_type {};
template <class Net>
struct takes_image_bytes<Net, std::void_t<typename Net::input_tensor>>
    : std::is_same<typename Net::input_tensor, image_batch> {};
}  // namespace detail

// Whether Net takes the image's bytes (a deployed network) rather than floats.
template <class Net>
inline constexpr bool takes_image_bytes = detail::takes_image_bytes<Net>::value;

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
template <class Batch>
void copy_images(const Batch& images, std::size_t first, std::size_t n, Batch& out) {
  const std::size_t sample = images.shape(1) * images.shape(2) * images.shape(3);
  out.resize({n, images.shape(1), images.shape(2), images.shape(3)});
  std::copy_n(images.data() + first * sample, n * sample, out.data());
}

// A deployed network's images must have its input's shape.
template <class Net>
void check_image_shape(std::size_t channels, std::size_t height, std::size_t width) {
  using In = typename Net::input_shape;
  if (channels != In::channels || height != In::height || width != In::width)
    throw std::invalid_argument(fmt::format("nibble::evaluate: images of {}x{}x{} for a network that takes {}x{}x{}",
                                            channels, height, width, In::channels, In::height, In::width));
}

template <class Net, class Sample>
evaluation evaluate_floats(Net& net, const data::basic_dataset<Sample>& test, const eval_options& o) {
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

// The top-1 class of each of the first n images of a batch's logits.
inline void append_top1(const activation& logits, std::size_t n, std::vector<std::int32_t>& classes) {
  const std::size_t width = logits.shape(1);
  for (std::size_t i = 0; i < n; ++i) {
    const float* z = logits.data() + i * width;
    classes.push_back(std::int32_t(std::max_element(z, z + width) - z));
  }
}
// Calls f(batch, first, n) on images first .. first+n, batch by batch.
template <class Batch, class F>
void for_each_batch(const Batch& images, std::size_t batch_size, F&& f) {
  Batch part;
  for (std::size_t first = 0; first < images.shape(0); first += batch_size) {
    const std::size_t n = std::min(batch_size, images.shape(0) - first);
    copy_images(images, first, n, part);
    f(part, first, n);
  }
}
}  // namespace detail

// Accuracy and loss on a dataset: a trained network's normalised with the
// dataset's own normalisation, a deployed network's as bytes.
template <class Net, class Sample>
evaluation evaluate(Net& net, const data::basic_dataset<Sample>& test, const eval_options& o = {}) {
  detail::check_options(o);
  if constexpr (takes_image_bytes<Net>) {
    static_assert(std::is_same_v<Sample, std::uint8_t>,
                  "nibble::evaluate: a deployed network takes the image's bytes; this dataset holds floats.");
    if (!o.plain())
      throw std::invalid_argument("nibble::evaluate: test-time views (flip, shift) are for trained networks; a "
                                  "deployed network is evaluated on the images as they are");
    context ctx{.phase = mode::eval};
    detail::evaluation_sum sum;
    image_batch part;
    const data::image_shape& shape = test.shape;
    detail::check_image_shape<Net>(shape.channels, shape.height, shape.width);
    progress_bar bar("  eval", (test.size() + o.batch_size - 1) / o.batch_size, o.progress);
    for (std::size_t first = 0; first < test.size(); first += o.batch_size) {
      const std::size_t n = std::min(o.batch_size, test.size() - first);
      part.resize({n, shape.channels, shape.height, shape.width});
      std::copy_n(test.image(first), n * shape.size(), part.data());
      sum.add(net.forward(part, ctx), std::span<const std::int32_t>(test.labels).subspan(first, n));
      sum.plain_correct = sum.correct;
      bar.update(first / o.batch_size + 1, sum.seen, fmt::format("acc {:.2f}%", 100.0 * sum.accuracy()));
    }
    return sum.result();
  } else {
    return detail::evaluate_floats(net, test, o);
  }
}

// Accuracy and loss on images prepared as the network takes them, one label
// per image; run in batches of o.batch_size. A wrong shape, label count or
// label is refused (std::invalid_argument).
template <class Net>
evaluation evaluate(Net& net, const activation& images, std::span<const std::int32_t> labels,
                    const eval_options& o = {}) {
  static_assert(!takes_image_bytes<Net>,
                "nibble::evaluate: a deployed network takes the image's bytes (an image_batch or a byte dataset), "
                "not normalised floats.");
  detail::check_options(o);
  if (labels.size() != images.shape(0))
    throw std::invalid_argument(fmt::format("nibble::evaluate: {} labels for {} images", labels.size(),
                                            images.shape(0)));
  detail::eval_forward<Net> forward(o);
  detail::evaluation_sum sum;
  detail::for_each_batch(images, o.batch_size, [&](const activation& part, std::size_t first, std::size_t n) {
    sum.add(forward, forward(net, part), labels.subspan(first, n));
  });
  return sum.result();
}

// The top-1 class of each image (prepared as the network takes them).
template <class Net>
std::vector<std::int32_t> predict(Net& net, const activation& images, std::size_t batch_size = 128) {
  static_assert(!takes_image_bytes<Net>,
                "nibble::predict: a deployed network takes the image's bytes (an image_batch), not normalised "
                "floats.");
  detail::check_options({.batch_size = batch_size});
  detail::eval_forward<Net> forward;
  std::vector<std::int32_t> classes;
  classes.reserve(images.shape(0));
  detail::for_each_batch(images, batch_size, [&](const activation& part, std::size_t, std::size_t n) {
    detail::append_top1(forward(net, part), n, classes);
  });
  return classes;
}

// A deployed network on images as bytes (N, C, H, W, as datasets hold
// them): accuracy and loss, one label per image, in batches of
// o.batch_size (no test-time views).
template <class Net>
  requires takes_image_bytes<Net>
evaluation evaluate(Net& net, const image_batch& images, std::span<const std::int32_t> labels,
                    const eval_options& o = {}) {
  detail::check_options(o);
  if (!o.plain())
    throw std::invalid_argument("nibble::evaluate: test-time views (flip, shift) are for trained networks");
  if (labels.size() != images.shape(0))
    throw std::invalid_argument(fmt::format("nibble::evaluate: {} labels for {} images", labels.size(),
                                            images.shape(0)));
  detail::check_image_shape<Net>(images.shape(1), images.shape(2), images.shape(3));
  context ctx{.phase = mode::eval};
  detail::evaluation_sum sum;
  detail::for_each_batch(images, o.batch_size, [&](const image_batch& part, std::size_t first, std::size_t n) {
    sum.add(net.forward(part, ctx), labels.subspan(first, n));
  });
  sum.plain_correct = sum.correct;
  return sum.result();
}

// The top-1 class of each image, for a deployed network on bytes.
template <class Net>
  requires takes_image_bytes<Net>
std::vector<std::int32_t> predict(Net& net, const image_batch& images, std::size_t batch_size = 128) {
  detail::check_options({.batch_size = batch_size});
  detail::check_image_shape<Net>(images.shape(1), images.shape(2), images.shape(3));
  context ctx{.phase = mode::eval};
  std::vector<std::int32_t> classes;
  classes.reserve(images.shape(0));
  detail::for_each_batch(images, batch_size, [&](const image_batch& part, std::size_t, std::size_t n) {
    detail::append_top1(net.forward(part, ctx), n, classes);
  });
  return classes;
}

}  // namespace nibble
