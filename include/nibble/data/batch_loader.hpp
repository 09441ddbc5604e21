#pragma once
// Shuffled mini-batches of normalised (and optionally augmented) images,
// each prepared on a background thread while the caller trains on the last.
//
// Reproducibility: the image order depends only on (seed, epoch), each
// batch's augmentation only on (seed, epoch, batch index) and an alternating
// flip only on (seed, image, epoch), so thread timing never changes what a
// training run sees.

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "nibble/core/counter_random.hpp"
#include "nibble/data/augment.hpp"
#include "nibble/data/dataset.hpp"

namespace nibble::data {

struct batch {
  xt::xtensor<float, 4> images;      // (n, C, H, W), normalised
  std::vector<std::int32_t> labels;  // n labels

  std::size_t size() const { return labels.size(); }
};

struct loader_options {
  std::size_t batch_size = 128;
  bool shuffle = true;
  bool augment = true;
  bool drop_last = false;  // skip the final batch when it would be smaller than batch_size
  augmentation aug{};
  std::uint64_t seed = 0;
};


template <image_sample Sample>
class basic_batch_loader {
 public:
  // `data` is referenced, not copied: it must outlive the loader and stay
  // unchanged. A dataset that cannot be fed (check_dataset) is refused.
  basic_batch_loader(const basic_dataset<Sample>& data, loader_options opts)
      : data_((check_dataset(data, "the dataset given to batch_loader"), data)), opts_(opts), prepare_(data) {
    if (opts_.batch_size == 0) throw std::invalid_argument("nibble::data: batch_loader batch_size must be > 0");
    order_.resize(data_.size());
    worker_ = std::thread([this] { work(); });
  }

  ~basic_batch_loader() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    worker_.join();  // at most one batch in flight, so this returns promptly
  }

  basic_batch_loader(const basic_batch_loader&) = delete;
  basic_batch_loader& operator=(const basic_batch_loader&) = delete;

  std::size_t batches_per_epoch() const {
    const std::size_t n = data_.size();
    return opts_.drop_last ? n / opts_.batch_size : (n + opts_.batch_size - 1) / opts_.batch_size;
  }

  // Abandons whatever is left of the current epoch and begins `epoch`.
  void start_epoch(std::uint64_t epoch) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !busy_; });  // the worker reads order_ while busy
    ++generation_;
    epoch_ = epoch;
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    if (opts_.shuffle) {
      // Fisher-Yates with our own bounded draw: same order on every standard library.
      std::mt19937_64 rng(derive_key(opts_.seed, epoch, ~std::uint64_t{0}));
      for (std::size_t i = order_.size(); i > 1; --i)
        std::swap(order_[i - 1], order_[detail::uniform_below(rng, i)]);
    }
    produced_ = 0;
    consumed_ = 0;
    slot_full_ = false;
    error_ = nullptr;
    active_ = true;
    lock.unlock();
    changed_.notify_all();
  }

  // Moves the next batch into `out` (its old buffers are recycled for a later
  // batch); returns false once the epoch is exhausted. Rethrows worker errors.
  bool next(batch& out) {
    std::unique_lock lock(mutex_);
    if (!active_) throw std::logic_error("nibble::data: batch_loader::next called before start_epoch");
    if (consumed_ == batches_per_epoch()) return false;
    changed_.wait(lock, [this] { return slot_full_ || error_; });
    if (error_) std::rethrow_exception(error_);  // kept: the epoch stays broken until start_epoch
    using std::swap;
    swap(out, slot_);
    slot_full_ = false;
    ++consumed_;
    lock.unlock();
    changed_.notify_all();
    return true;
  }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [this] {
        return stop_ || (active_ && !slot_full_ && !error_ && produced_ < batches_per_epoch());
      });
      if (stop_) return;
      const std::size_t index = produced_;
      const std::uint64_t generation = generation_;
      const std::uint64_t epoch = epoch_;
      busy_ = true;
      lock.unlock();

      std::exception_ptr failure;
      try {
        fill(work_, epoch, index);
      } catch (...) {
        failure = std::current_exception();
      }

      lock.lock();
      busy_ = false;
      if (generation == generation_) {  // start_epoch waits for !busy_, but keep stale work out regardless
        if (failure) {
          error_ = failure;
        } else {
          using std::swap;
          swap(work_, slot_);
          slot_full_ = true;
          ++produced_;
        }
      }
      changed_.notify_all();
    }
  }

  // Runs without the lock: reads order_ (stable while busy_) and the dataset.
  void fill(batch& b, std::uint64_t epoch, std::size_t index) const {
    const std::size_t first = index * opts_.batch_size;
    const std::size_t n = std::min(opts_.batch_size, data_.size() - first);
    // resize() is a no-op when the shape repeats, so steady state does not allocate.
    const image_shape& shape = data_.shape;
    b.images.resize({n, shape.channels, shape.height, shape.width});
    b.labels.resize(n);
    std::mt19937_64 rng(derive_key(opts_.seed, epoch, index));
    float* dst = b.images.data();
    for (std::size_t i = 0; i < n; ++i, dst += shape.size()) {
      const std::size_t source = order_[first + i];
      b.labels[i] = data_.labels[source];
      if (opts_.augment)
        prepare_.augment(data_.image(source), dst, opts_.aug, rng, mirror_of(source, epoch));
      else
        prepare_.normalise(data_.image(source), dst);
    }
  }

  // With alternating flips, image `source` is mirrored in the epochs of one
  // parity, which a bit drawn from (seed, source) picks; else none is given.
  std::optional<bool> mirror_of(std::size_t source, std::uint64_t epoch) const {
    if (!opts_.aug.alternate_flip) return std::nullopt;
    constexpr std::uint64_t stream = 0x666c6970;  // "flip": apart from the batch streams (0, 1, ...)
    const bool first = (derive_key(opts_.seed, source, stream) >> 63) != 0;
    return first != (epoch % 2 == 1);
  }

  const basic_dataset<Sample>& data_;
  loader_options opts_;
  image_preparation<Sample> prepare_;
  std::vector<std::size_t> order_;  // image indices for the current epoch

  std::mutex mutex_;
  std::condition_variable changed_;  // any state change below; both sides wait on it
  bool stop_ = false;
  bool active_ = false;     // start_epoch has been called
  bool busy_ = false;       // worker is filling work_ outside the lock
  bool slot_full_ = false;  // slot_ holds the next batch for the caller
  std::uint64_t generation_ = 0;
  std::uint64_t epoch_ = 0;
  std::size_t produced_ = 0;  // batches handed to slot_ this epoch
  std::size_t consumed_ = 0;  // batches handed to the caller this epoch
  std::exception_ptr error_;
  batch slot_;
  batch work_;  // touched only by the worker
  std::thread worker_;
};

using batch_loader = basic_batch_loader<std::uint8_t>;
using float_batch_loader = basic_batch_loader<float>;

}  // namespace nibble::data
