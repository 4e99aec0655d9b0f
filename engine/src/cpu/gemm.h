// keel's single-precision GEMM for the CPU ops: operands packed into register-tile panels and a
// register-blocked micro-kernel, with no allocation of its own. Compiled once per instruction-set
// variant (isa.h): the tile sizes below are those of the variant being compiled.
#pragma once

#include <cstddef>
#include <cstdint>

// View and multiply(), declared for every variant.
#include "cpu/cpu_ops.h"

namespace keel::cpu::KEEL_CPU_ISA::gemm {

// The micro-kernel computes a kMr × kNr tile of C held entirely in registers: with AVX-512,
// 8 rows × 3 vectors of 16 = 24 of the 32 zmm registers accumulate, leaving room for the three
// B vectors and a broadcast A value. 8 divides every channel count the CNNs use and 48 divides
// their output pixel counts (64·36, 64·9), so the flagship's tiles are all full.
// With AVX2, 4 rows × 3 vectors of 8 = 12 of the 16 ymm registers accumulate, with three for the
// B vectors and one for the broadcast; 4 and 24 divide the same channel and pixel counts.
#if defined(__AVX512F__)
inline constexpr int64_t kMr = 8;
inline constexpr int64_t kNr = 48;
#elif defined(__AVX2__)
inline constexpr int64_t kMr = 4;
inline constexpr int64_t kNr = 24;
#else
inline constexpr int64_t kMr = 4;
inline constexpr int64_t kNr = 16;
#endif

constexpr int64_t round_up(int64_t v, int64_t multiple) {
  return (v + multiple - 1) / multiple * multiple;
}
constexpr int64_t panels(int64_t v, int64_t width) {
  return (v + width - 1) / width;
}

// Packed layouts, both "panel-major with the full depth inside each panel":
// - A (m × k): panel i holds, for each depth index p = 0..k-1, the kMr values A[i·kMr + r][p]
//   (rows past m are zero), so a panel is kMr·k floats and the kernel reads it sequentially.
// - B (k × n): panel j holds, for each p, the kNr values B[p][j·kNr + l] (columns past n are zero),
//   kNr·k floats per panel. im2col writes this layout directly, which saves a packing pass.
constexpr size_t packed_a_floats(int64_t m, int64_t k) {
  return static_cast<size_t>(round_up(m, kMr) * k);
}
constexpr size_t packed_b_floats(int64_t k, int64_t n) {
  return static_cast<size_t>(round_up(n, kNr) * k);
}

// Packs rows [0, m) × depth [0, k) of a, or only its panels [first, last) (so threads can share
// the packing of one operand).
void pack_a(View a, int64_t m, int64_t k, float* packed, int64_t first = 0, int64_t last = -1);
// Packs depth [0, k) × columns [0, n) of b, or only its panels [first, last).
void pack_b(View b, int64_t k, int64_t n, float* packed, int64_t first = 0, int64_t last = -1);

// multiply_packed() is declared with the entry points every variant shares (gemm_api.inc).

}  // namespace keel::cpu::KEEL_CPU_ISA::gemm
