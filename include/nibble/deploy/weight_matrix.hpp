#pragma once
// What a deployed conv2d or linear layer holds: Rows × Cols weight codes and
// per output channel the two numbers of its epilogue,
//
//   y_c = multiplier_c · Σ code·x + offset_c      (then ReLU when folded)
//
// The trained layer computed BN(s_c · Σ code·x + bias_c) with BN in eval
// mode as y = a_c·z + b_c, so folding gives multiplier = a·s and
// offset = a·bias + b: the codes stay exactly as trained, and the scale,
// the bias and the batch norm become two floats per channel.
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nibble/deploy/weight_codes.hpp"
#include "nibble/kernels/channel_affine.hpp"
#include "nibble/quant/arithmetic.hpp"

namespace nibble::deploy {

// One tensor of a deployed layer as model files see it: codes (as bytes)
// or floats, with its shape and a name for messages.
struct tensor_ref {
  std::string role;  // "weight codes", "multiplier", "offset"
  code_format format;
  std::vector<std::size_t> shape;
  std::span<std::byte> codes;  // int4_pairs and int8
  std::span<float> floats;     // float32
};

// The per-channel multiplier and offset, and the pass that applies them.
template <std::size_t Channels, bool Relu>
struct channel_epilogue {
  std::vector<float> multiplier = std::vector<float>(Channels, 1.0f);
  std::vector<float> offset = std::vector<float>(Channels, 0.0f);

  void apply(std::size_t batch, std::size_t pixels, const float* x, float* y) const {
    kernels::channel_affine<Relu>(
        {batch, Channels, pixels}, [&](std::size_t c) { return std::pair{multiplier[c], offset[c]}; }, x, y);
  }
  template <class F>
  void visit_tensors(F&& f) {
    f(tensor_ref{"multiplier", code_format::float32, {Channels}, {}, multiplier});
    f(tensor_ref{"offset", code_format::float32, {Channels}, {}, offset});
  }
  std::string fault() const {
    for (std::size_t c = 0; c < Channels; ++c)
      if (!std::isfinite(multiplier[c]) || !std::isfinite(offset[c]))
        return "the multiplier or offset of channel " + std::to_string(c) + " is not a finite number";
    return {};
  }
};

namespace detail {
// Room to decode one layer's codes into floats for the float kernels;
// shared by every layer of a thread, so a network holds its weights once.
inline float* decode_scratch(std::size_t n) {
  thread_local std::vector<float> scratch;
  if (scratch.size() < n) scratch.resize(n);
  return scratch.data();
}
}  // namespace detail

template <class Bits, class Arithmetic, std::size_t Rows, std::size_t Cols, bool Relu>
class weight_matrix {
 public:
  using weight_bits = Bits;
  using arithmetic = Arithmetic;
  static constexpr std::size_t weight_count = Rows * Cols;
  // Codes plus the two per-channel floats.
  static constexpr std::size_t parameter_count = weight_count + 2 * Rows;

  weight_codes<Bits> codes{weight_count};
  channel_epilogue<Rows, Relu> epilogue;

  // From a trained conv2d or linear layer with nothing folded after it.
  template <class Trained>
  void fold_from(const Trained& trained) {
    fold(trained, [](std::size_t) { return std::pair{1.0f, 0.0f}; });
  }
  // From a trained layer and the batch norm that follows it.
  template <class Trained, class Norm>
  void fold_from(const Trained& trained, const Norm& norm) {
    fold(trained, [&](std::size_t c) { return norm.eval_affine(c); });
  }

  template <class F>
  void visit_tensors(F&& f) {
    if constexpr (weight_codes<Bits>::quantized)
      f(tensor_ref{"weight codes", codes.format, {Rows, Cols}, codes.storage(), {}});
    else
      f(tensor_ref{"weights", codes.format, {Rows, Cols}, {}, codes.storage()});
    epilogue.visit_tensors(f);
  }
  std::string fault() const {
    std::string f = codes.fault();
    return f.empty() ? epilogue.fault() : f;
  }

 protected:
  // The codes as floats, in the thread's scratch space.
  const float* decoded_weights() const {
    float* w = detail::decode_scratch(weight_count);
    codes.decode(w);
    return w;
  }

 private:
  template <class Trained, class After>
  void fold(const Trained& trained, After after) {
    using S = typename Trained::scheme_type;
    static_assert(std::is_same_v<typename S::bit_width, Bits> && Trained::weight_count == weight_count,
                  "nibble::deploy: a deployed layer is filled from the trained layer it was derived from.");
    // The scheme quantizes exactly as the trained forward pass does.
    std::vector<float> wq, scales;
    trained.quantize_for_inference(wq, scales);
    for (std::size_t r = 0; r < Rows; ++r) {
      const float s = scales[S::per_channel ? r : 0];
      for (std::size_t c = 0; c < Cols; ++c) {
        const std::size_t i = r * Cols + c;
        if constexpr (S::quantized)
          codes.set_code(i, int(std::nearbyint(wq[i] / s)));
        else
          codes.set_value(i, wq[i]);
      }
      const auto [a, b] = after(r);
      epilogue.multiplier[r] = a * s;
      epilogue.offset[r] = a * trained.bias.value(r) + b;
    }
  }
};

}  // namespace nibble::deploy
