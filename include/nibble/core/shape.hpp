#pragma once
// The compile-time shape of one sample (channels, height, width) and the
// tensor types used at every layer interface.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xtensor/xtensor.hpp>

namespace nibble {

// Shape of one sample. A flat vector of F features is shape<F, 1, 1>.
template <std::size_t C, std::size_t H, std::size_t W>
struct shape {
  static constexpr std::size_t channels = C;
  static constexpr std::size_t height = H;
  static constexpr std::size_t width = W;
  static constexpr std::size_t size = C * H * W;
  static constexpr bool is_flat = (H == 1 && W == 1);
};

// The first element of a network: the shape of its input samples.
template <std::size_t C, std::size_t H, std::size_t W>
using input = shape<C, H, W>;

template <class T>
struct is_shape : std::false_type {};
template <std::size_t C, std::size_t H, std::size_t W>
struct is_shape<shape<C, H, W>> : std::true_type {};
template <class T>
concept sample_shape = is_shape<T>::value;

// A batch of activations or their gradients: (batch, channels, height, width).
using activation = xt::xtensor<float, 4>;

// A batch of activation codes, one byte per value, channels last:
// (batch, height, width, channels). What deployed integer layers hand each
// other (see layers/layer.hpp): a pixel's codes lie together, as the
// implicit convolution (kernels/int8/implicit_conv.hpp) reads them. A type
// of its own, so that no layer mistakes it for (batch, channels, ...).
struct code_activation : xt::xtensor<std::uint8_t, 4> {
  using xt::xtensor<std::uint8_t, 4>::xtensor;
};

// A batch of 8-bit images as datasets hold them, one byte per sample:
// (batch, channels, height, width). What a deployed network takes
// (deploy/image_input.hpp); a type of its own, so that it is not taken for
// activation codes.
struct image_batch : xt::xtensor<std::uint8_t, 4> {
  using xt::xtensor<std::uint8_t, 4>::xtensor;
  using xt::xtensor<std::uint8_t, 4>::operator=;
  // Floats are not images: xtensor would cast normalised values to bytes
  // (0.7 to 0, -1.2 to 255) and a deployed network would answer nonsense.
  template <class E>
    requires(!std::is_same_v<typename E::value_type, std::uint8_t>)
  image_batch(const xt::xexpression<E>&) {
    static_assert(sizeof(E) == 0,
                  "nibble::image_batch holds the image's bytes (0..255, as datasets hold them); it cannot be made "
                  "from floats such as normalised images: a deployed network normalises the bytes itself.");
  }
  template <class E>
    requires(!std::is_same_v<typename E::value_type, std::uint8_t>)
  image_batch& operator=(const xt::xexpression<E>& e) {
    return *this = image_batch(e);
  }
};

// Resize only when the shape changes, so a training step with a fixed batch
// size allocates nothing after its first call.
template <class Shape, class T>
inline void ensure_batch_shape(xt::xtensor<T, 4>& t, std::size_t batch) {
  if (t.shape(0) != batch || t.shape(1) != Shape::channels || t.shape(2) != Shape::height ||
      t.shape(3) != Shape::width)
    t.resize({batch, Shape::channels, Shape::height, Shape::width});
}
template <class Shape>
inline void ensure_batch_shape(code_activation& t, std::size_t batch) {
  if (t.shape(0) != batch || t.shape(1) != Shape::height || t.shape(2) != Shape::width ||
      t.shape(3) != Shape::channels)
    t.resize({batch, Shape::height, Shape::width, Shape::channels});
}

}  // namespace nibble
