#pragma once
// Whether a layer's integer product sum fits its accumulator. With
// activation codes of A bits (0 … 2^A − 1) and weight codes of W bits
// (|code| ≤ 2^(W−1)), a sum over fan_in products is at most
// fan_in · (2^A − 1) · 2^(W−1) in magnitude; an int32 accumulator holds it
// when that is below 2^31. Layers whose scheme quantizes activations check
// this at compile time, so a network that could overflow in integer
// inference does not build.
#include <cstddef>
#include <cstdint>

namespace nibble {

// The same for any levels, given the largest activation and weight codes
// (power-of-two levels reach far past 2^(W−1): 64 for 4-bit weights, 128
// for 4-bit activations).
constexpr bool codes_fit_accumulator(std::size_t fan_in, unsigned long long largest_weight_code,
                                     unsigned long long largest_activation_code, int accumulator_bits = 32) {
  const unsigned long long largest = (unsigned long long)fan_in * largest_activation_code * largest_weight_code;
  return largest < (1ull << (accumulator_bits - 1));
}

constexpr bool accumulator_fits(std::size_t fan_in, int weight_bits, int activation_bits, int accumulator_bits = 32) {
  return codes_fit_accumulator(fan_in, 1ull << (weight_bits - 1), (1ull << activation_bits) - 1, accumulator_bits);
}

static_assert(accumulator_fits(4608, 8, 8));    // VGG4bit W8A8's largest fan-in
static_assert(!accumulator_fits(70000, 8, 8));  // 70,000 · 255 · 128 > 2^31
static_assert(codes_fit_accumulator(4608, 64, 128) && !codes_fit_accumulator(300000, 64, 128));

}  // namespace nibble
