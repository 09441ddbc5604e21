#pragma once
// Counter-based random numbers: a value is a pure function of (key, index),
// so any element's draw can be made on any thread in any order and a run
// still reproduces bit for bit. Keys are derived from (seed, step, stream)
// the same way. The mixer is splitmix64's finaliser, which spreads nearby
// inputs (step 3 and 4, element 7 and 8) into unrelated outputs.
#include <cstdint>

namespace nibble {

inline constexpr std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A key for one stream of draws of one step of a run.
inline constexpr std::uint64_t derive_key(std::uint64_t seed, std::uint64_t step, std::uint64_t stream) {
  return mix64(mix64(mix64(seed) ^ step) ^ stream);
}

// Uniform in [0, 1), from the top 24 bits: every value a float can hold
// exactly at that spacing, never 1.
inline constexpr float uniform01(std::uint64_t key, std::uint64_t index) {
  return float(mix64(key ^ mix64(index)) >> 40) * 0x1p-24f;
}

}  // namespace nibble
