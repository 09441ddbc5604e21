// A training step allocates nothing once its buffers exist: every layer's
// workspace (packed weights, padded images, pixel-major copies, per-thread
// partial sums) is sized on the first step and reused after.
#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <random>
#include <vector>

#include "nibble/layers/batch_norm.hpp"
#include "nibble/layers/conv2d.hpp"
#include "nibble/layers/flatten.hpp"
#include "nibble/layers/linear.hpp"
#include "nibble/layers/max_pool2d.hpp"
#include "nibble/net/sequential.hpp"
#include "nibble/quant/presets.hpp"
#include "nibble/train/optimizer.hpp"
#include "nibble/train/step.hpp"

// Every allocation in the process goes through these: glibc's malloc family
// is replaced by wrappers around its own entry points (__libc_malloc, …),
// so operator new, the aligned allocators (posix_memalign) and the OpenMP
// runtime are all counted. That is why this test is a program of its own.
namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
void note() {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t size) {
  note();
  return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) {
  note();
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) {
  note();
  return __libc_realloc(p, size);
}
void* memalign(std::size_t alignment, std::size_t size) {
  note();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) {
  note();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  note();
  *out = __libc_memalign(alignment, size);
  return *out ? 0 : ENOMEM;
}
void free(void* p) { __libc_free(p); }
}

using namespace nibble;

namespace {

// Layers of 16×16 and 8×8 images with 16 and 32 channels: the direct
// convolution kernels (both row widths) and the direct weight gradient.
template <class S>
using steady_net = sequential<input<16, 16, 16>, conv2d<32, 3, S>, batch_norm_relu, max_pool2d<2>, conv2d<32, 3, S>,
                              batch_norm_relu, max_pool2d<2>, flatten, linear<10, S>>;

// Allocations counted in each of three training steps.
template <class S>
std::vector<long> allocations_per_step() {
  steady_net<S> net;
  std::mt19937_64 rng(3);
  net.init(rng);
  adamw opt;
  context ctx;
  activation x, grad;
  x.resize({8, 16, 16, 16});
  std::normal_distribution<float> normal;
  for (auto& v : x) v = normal(rng);
  std::vector<std::int32_t> labels(8);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = std::int32_t(i % 10);
  std::vector<long> counts;
  counts.reserve(3);
  for (int step = 0; step < 3; ++step) {
    allocations = 0;
    counting = true;
    train_step(net, opt, x, labels, 1e-3f, 0.5, grad, ctx);
    counting = false;
    counts.push_back(allocations);
  }
  return counts;
}

}  // namespace

TEST_CASE("a steady-state training step allocates nothing (fp32 and bf16)", "[train][memory]") {
  for (const auto& counts : {allocations_per_step<paper_4bit>(), allocations_per_step<paper_4bit_bf16>()}) {
    CHECK(counts[0] > 0);  // the first step sizes the buffers (and shows the counter works)
    CHECK(counts[1] == 0);
    CHECK(counts[2] == 0);
  }
}
