#pragma once
// The plain integer product that every int8 kernel must reproduce exactly:
// out[r][c] = Σ_k w[r][k] · x[k][c], s8 weights times u8 activation codes
// summed in int32. It is the test oracle of packed_gemm.hpp; integer sums
// do not depend on their order, so every kernel must match it bit for bit.
#include <cstddef>
#include <cstdint>

namespace nibble::kernels::int8 {

inline void gemm_reference(std::size_t rows, std::size_t cols, std::size_t depth, const std::int8_t* w,
                           const std::uint8_t* x, std::int32_t* out) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      std::int32_t s = 0;
      for (std::size_t k = 0; k < depth; ++k) s += std::int32_t(w[r * depth + k]) * std::int32_t(x[k * cols + c]);
      out[r * cols + c] = s;
    }
}

}  // namespace nibble::kernels::int8
