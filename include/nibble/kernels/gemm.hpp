#pragma once
// Single-precision matrix product C = A·B (+ C), cache-blocked in the manner
// of BLIS/GotoBLAS: B is packed into KC×NR panels that stay in L1, A into
// MR×KC slivers in L2, and a register-tiled micro-kernel keeps an MR×NR tile
// of C in vector registers for the whole K loop.
//
// Operands are strided views, so transposed inputs cost nothing extra: the
// packing routines read them in whatever order they are stored. The parts
// live in gemm/: config.hpp (views, tile and block sizes), packing.hpp,
// micro_kernel.hpp and loops.hpp (the entry points gemm and gemm_packed).
#include "nibble/kernels/gemm/loops.hpp"
