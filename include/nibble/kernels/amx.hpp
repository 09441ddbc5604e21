#pragma once
// The AMX tile state, shared by the int8 tiles (int8/amx.hpp) and the bf16
// ones (bf16_tiles.hpp). Linux hands the tile state only to a process that
// asks for it (arch_prctl ARCH_REQ_XCOMP_PERM); amx_usable() asks once and
// says whether the kernel agreed. Every kernel here uses one configuration,
// eight tiles of 16 rows × 64 bytes, which each thread loads once.
#include <cstdint>

#include "nibble/config.hpp"

#if NIBBLE_ISA_AMX_INT8 || NIBBLE_ISA_AMX_BF16
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace nibble::kernels {

#if NIBBLE_ISA_AMX_INT8 || NIBBLE_ISA_AMX_BF16
namespace amx {

inline constexpr long arch_req_xcomp_perm = 0x1023;  // from <asm/prctl.h>
inline constexpr long xfeature_xtiledata = 18;

struct alignas(64) tile_config {
  std::uint8_t palette = 1, start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t bytes_per_row[16] = {};
  std::uint8_t rows[16] = {};
};

// All eight tiles 16 rows × 64 bytes: 16 × 16 sums (int32 or fp32), 16 ×
// 64 int8 codes, or 16 × 16 bf16 pairs.
inline void configure_tiles_once() {
  thread_local bool configured = false;
  if (configured) return;
  tile_config c;
  for (int t = 0; t < 8; ++t) {
    c.bytes_per_row[t] = 64;
    c.rows[t] = 16;
  }
  _tile_loadconfig(&c);
  configured = true;
}

}  // namespace amx

// Whether this process may use the tiles (asked of the kernel once).
inline bool amx_usable() {
  static const bool granted = syscall(SYS_arch_prctl, amx::arch_req_xcomp_perm, amx::xfeature_xtiledata) == 0;
  return granted;
}
#else
inline bool amx_usable() { return false; }
#endif

}  // namespace nibble::kernels
