// The packed single-precision GEMM behind conv2d and linear (see gemm.h): Goto-style blocking of
// the depth so the B micro-panel stays in L1 while the kernel walks down the A panels.
#include "cpu/gemm.h"

#include <algorithm>
#include <cstring>

#include <omp.h>

#include "cpu/simd.h"
#include "cpu/workspace.h"
#include "keel/runtime.h"

namespace keel::cpu::KEEL_CPU_ISA::gemm {

namespace {

// Depth block: a kNr-wide B micro-panel of kKc rows is 24 KiB with AVX-512, half of the 48 KiB L1
// data cache, so it stays resident while every A panel streams past it from L2.
constexpr int64_t kKc = 128;

// Floats of C kept in L2 across the depth blocks: 1 MiB, half the core's 2 MiB L2, leaving room
// for the A block (m × kKc) that every column panel reuses.
constexpr int64_t kCBlockFloats = 256 * 1024;

// Depth blocks of (nearly) equal length, so a depth just over a block size does not leave a short
// tail block that reloads C for little work. Depends only on k: results are thread-independent.
int64_t depth_block(int64_t k) {
  const int64_t blocks = panels(k, kKc);
  return panels(k, blocks);
}

#if defined(__AVX512F__)

__mmask16 lane_mask(int64_t cols, int vector) {
  const int64_t live = std::clamp<int64_t>(cols - 16 * vector, 0, 16);
  return static_cast<__mmask16>((1u << live) - 1u);
}

// One kMr × kNr tile: 24 accumulators in zmm registers; each depth step loads three B vectors and
// broadcasts eight A values into 24 FMAs, so the loads stay below the two FMA ports' rate.
void kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
            int64_t rows, int64_t cols) {
  __m512 acc[kMr][3];
#pragma GCC unroll 8
  for (int i = 0; i < kMr; ++i) {
    acc[i][0] = _mm512_setzero_ps();
    acc[i][1] = _mm512_setzero_ps();
    acc[i][2] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = _mm512_loadu_ps(b + 16);
    const __m512 b2 = _mm512_loadu_ps(b + 32);
#pragma GCC unroll 8
    for (int i = 0; i < kMr; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
      acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);
    }
    a += kMr;
    b += kNr;
  }
  if (rows == kMr && cols == kNr) {
#pragma GCC unroll 8
    for (int i = 0; i < kMr; ++i) {
      float* ci = c + i * ldc;
      for (int v = 0; v < 3; ++v) {
        __m512 value = acc[i][v];
        if (accumulate) value = _mm512_add_ps(value, _mm512_loadu_ps(ci + 16 * v));
        _mm512_storeu_ps(ci + 16 * v, value);
      }
    }
    return;
  }
  const __mmask16 masks[3] = {lane_mask(cols, 0), lane_mask(cols, 1), lane_mask(cols, 2)};
  for (int i = 0; i < kMr; ++i) {
    if (i >= rows) break;
    float* ci = c + i * ldc;
    for (int v = 0; v < 3; ++v) {
      if (!masks[v]) continue;
      __m512 value = acc[i][v];
      if (accumulate) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(masks[v], ci + 16 * v));
      _mm512_mask_storeu_ps(ci + 16 * v, masks[v], value);
    }
  }
}

#else

// Portable tile: plain loops over a small tile that the compiler vectorises for the target.
void kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
            int64_t rows, int64_t cols) {
  float acc[kMr][kNr] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < kMr; ++i) {
      const float ai = a[i];
      for (int j = 0; j < kNr; ++j) acc[i][j] += ai * b[j];
    }
    a += kMr;
    b += kNr;
  }
  for (int64_t i = 0; i < rows; ++i) {
    float* ci = c + i * ldc;
    for (int64_t j = 0; j < cols; ++j) ci[j] = accumulate ? ci[j] + acc[i][j] : acc[i][j];
  }
}

#endif

// Panels [first, last) of A (or of B), packed into their places in `packed`.
void pack_a_panels(View a, int64_t m, int64_t k, int64_t first, int64_t last, float* packed) {
  for (int64_t i = first; i < last; ++i) {
    float* dst = packed + i * kMr * k;
    for (int64_t r = 0; r < kMr; ++r) {
      const int64_t row = i * kMr + r;
      if (row >= m) {
        for (int64_t p = 0; p < k; ++p) dst[p * kMr + r] = 0.0f;
        continue;
      }
      const float* src = a.data + row * a.row_stride;
      for (int64_t p = 0; p < k; ++p) dst[p * kMr + r] = src[p * a.col_stride];
    }
  }
}

void pack_b_panels(View b, int64_t k, int64_t n, int64_t first, int64_t last, float* packed) {
  for (int64_t j = first; j < last; ++j) {
    float* dst = packed + j * kNr * k;
    const int64_t col0 = j * kNr, live = std::min(kNr, n - col0);
    if (b.col_stride == 1) {
      // Rows of B are contiguous: one copy of `live` floats per depth index.
      for (int64_t p = 0; p < k; ++p) {
        std::memcpy(dst + p * kNr, b.data + p * b.row_stride + col0, sizeof(float) * live);
        std::fill(dst + p * kNr + live, dst + (p + 1) * kNr, 0.0f);
      }
    } else {
      // Columns are contiguous (B is a transposed view): read each column sequentially.
      for (int64_t l = 0; l < kNr; ++l) {
        if (l >= live) {
          for (int64_t p = 0; p < k; ++p) dst[p * kNr + l] = 0.0f;
          continue;
        }
        const float* src = b.data + (col0 + l) * b.col_stride;
        for (int64_t p = 0; p < k; ++p) dst[p * kNr + l] = src[p * b.row_stride];
      }
    }
  }
}

}  // namespace

void pack_a(View a, int64_t m, int64_t k, float* packed, int64_t first, int64_t last) {
  pack_a_panels(a, m, k, first, last < 0 ? panels(m, kMr) : last, packed);
}

void pack_b(View b, int64_t k, int64_t n, float* packed, int64_t first, int64_t last) {
  pack_b_panels(b, k, n, first, last < 0 ? panels(n, kNr) : last, packed);
}

void multiply_packed(int64_t m, int64_t n, int64_t k, const float* a_packed, int64_t a_stride,
                     const float* b_packed, int64_t b_stride, float* c, int64_t ldc,
                     bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    }
    return;
  }
  const int64_t kc = depth_block(k);
  const int64_t row_panels = panels(m, kMr), col_panels = panels(n, kNr);
  // Column blocks whose slice of C (m × block) stays in L2 while every depth block adds into it:
  // walking all of C once per depth block re-streamed it from L3 when C is large (a 256 × 2304
  // weight gradient is 2.3 MiB, more than the core's L2). Each element of C still receives its
  // depth blocks in order, so the sums are unchanged by the blocking.
  const int64_t block = std::max<int64_t>(1, kCBlockFloats / (round_up(m, kMr) * kNr));
  for (int64_t j0 = 0; j0 < col_panels; j0 += block) {
    const int64_t j1 = std::min(col_panels, j0 + block);
    for (int64_t p0 = 0; p0 < k; p0 += kc) {
      const int64_t depth = std::min(kc, k - p0);
      for (int64_t j = j0; j < j1; ++j) {
        const float* b = b_packed + j * b_stride + p0 * kNr;
        const int64_t cols = std::min(kNr, n - j * kNr);
        for (int64_t i = 0; i < row_panels; ++i) {
          kernel(depth, a_packed + i * a_stride + p0 * kMr, b, c + i * kMr * ldc + j * kNr, ldc,
                 accumulate || p0 > 0, std::min(kMr, m - i * kMr), cols);
        }
      }
    }
  }
}

void multiply(int64_t m, int64_t n, int64_t k, View a, View b, float* c, int64_t ldc,
              bool accumulate) {
  if (m <= 0 || n <= 0) return;
  float* a_packed = scratch(ScratchSlot::packed_a, packed_a_floats(m, k));
  float* b_packed = scratch(ScratchSlot::packed_b, packed_b_floats(k, n));
  const int64_t row_panels = panels(m, kMr), col_panels = panels(n, kNr);
  // A fork/join costs a few microseconds: below ~4 MFLOP one thread finishes first.
  const bool big = 2.0 * static_cast<double>(m) * n * k > 4e6;
  const int threads = big ? num_threads() : 1;
  // Thread t of team packs its share of both operands, then computes its panels of C.
  auto share = [&](int64_t t, int64_t team) {
    pack_a_panels(a, m, k, row_panels * t / team, row_panels * (t + 1) / team, a_packed);
    pack_b_panels(b, k, n, col_panels * t / team, col_panels * (t + 1) / team, b_packed);
    if (team > 1) {
#pragma omp barrier
    }
    // Split the wider dimension; each thread owns whole panels of C.
    if (col_panels >= row_panels) {
      const int64_t j0 = col_panels * t / team, j1 = col_panels * (t + 1) / team;
      const int64_t cols = std::min(n, j1 * kNr) - j0 * kNr;
      if (cols > 0) {
        multiply_packed(m, cols, k, a_packed, kMr * k, b_packed + j0 * kNr * k, kNr * k,
                        c + j0 * kNr, ldc, accumulate);
      }
    } else {
      const int64_t i0 = row_panels * t / team, i1 = row_panels * (t + 1) / team;
      const int64_t rows = std::min(m, i1 * kMr) - i0 * kMr;
      if (rows > 0) {
        multiply_packed(rows, n, k, a_packed + i0 * kMr * k, kMr * k, b_packed, kNr * k,
                        c + i0 * kMr * ldc, ldc, accumulate);
      }
    }
  };
  // One thread runs outside any OpenMP region: even a region switched off by an if clause builds
  // a team, which libgomp allocates on the heap (the small CNN's linear layers took that path on
  // every step).
  if (threads <= 1) {
    share(0, 1);
    return;
  }
#pragma omp parallel num_threads(threads)
  share(omp_get_thread_num(), omp_get_num_threads());
}

}  // namespace keel::cpu::KEEL_CPU_ISA::gemm
