#pragma once
// The library's version and the instruction sets its kernels are compiled
// for, in one place. Each switch is 1 when the compiler targets that set
// (-march=native on a CPU that has it, or the matching -m flags) and 0
// otherwise; kernels test the switches, never the compiler's macros, and
// keep a portable path for 0.
#define NIBBLE_VERSION_MAJOR 0
#define NIBBLE_VERSION_MINOR 1
#define NIBBLE_VERSION_PATCH 0

// SSE2: every x86-64 CPU.
#if defined(__SSE2__)
#define NIBBLE_ISA_SSE2 1
#else
#define NIBBLE_ISA_SSE2 0
#endif

// AVX: 256-bit float and double vectors (conversions between them).
#if defined(__AVX__)
#define NIBBLE_ISA_AVX 1
#else
#define NIBBLE_ISA_AVX 0
#endif

#if defined(__AVX512F__)
#define NIBBLE_ISA_AVX512F 1
#else
#define NIBBLE_ISA_AVX512F 0
#endif

// AVX-512 byte/word and doubleword/quadword instructions (masks, 256-bit inserts).
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__)
#define NIBBLE_ISA_AVX512BW_DQ 1
#else
#define NIBBLE_ISA_AVX512BW_DQ 0
#endif

// vdpbf16ps: bf16 pairs multiplied into fp32 sums.
#if defined(__AVX512BF16__) && defined(__AVX512BW__)
#define NIBBLE_ISA_AVX512_BF16 1
#else
#define NIBBLE_ISA_AVX512_BF16 0
#endif

// vpdpbusd: four u8 × s8 products summed into each int32 lane.
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define NIBBLE_ISA_AVX512_VNNI 1
#else
#define NIBBLE_ISA_AVX512_VNNI 0
#endif

// AMX tiles with int8 dot products (tdpbsud), and with bf16 ones
// (tdpbf16ps). The kernel must also grant the process its tile state at
// run time (kernels/amx.hpp asks).
#if defined(__AMX_TILE__) && defined(__AMX_INT8__)
#define NIBBLE_ISA_AMX_INT8 1
#else
#define NIBBLE_ISA_AMX_INT8 0
#endif
#if defined(__AMX_TILE__) && defined(__AMX_BF16__)
#define NIBBLE_ISA_AMX_BF16 1
#else
#define NIBBLE_ISA_AMX_BF16 0
#endif

// NIBBLE_BUILT_NATIVE: set by the nibble::native CMake target along with
// -march=native.
namespace nibble {
#ifdef NIBBLE_BUILT_NATIVE
inline constexpr bool built_native = true;
#else
inline constexpr bool built_native = false;
#endif
// Whether the translation unit was compiled with optimisation (-O1 and up).
// Without it (CMake's default when CMAKE_BUILD_TYPE is empty) training runs
// some 60 times slower; train() says so once.
#ifdef __OPTIMIZE__
inline constexpr bool built_optimised = true;
#else
inline constexpr bool built_optimised = false;
#endif
inline constexpr int version_major = NIBBLE_VERSION_MAJOR;
inline constexpr int version_minor = NIBBLE_VERSION_MINOR;
inline constexpr int version_patch = NIBBLE_VERSION_PATCH;
}  // namespace nibble
