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

// Depth block: a kNr-wide B micro-panel of kKc rows is 24 KiB with AVX-512 (12 KiB with AVX2),
// half of a Sapphire Rapids core's 48 KiB L1 data cache and three quarters of a Zen 4 core's
// 32 KiB, so it stays resident while every A panel streams past it from L2.
constexpr int64_t kKc = 128;

// Floats of C kept in L2 across the depth blocks: 1 MiB, half a Sapphire Rapids core's 2 MiB L2
// (leaving room for the A block, m × kKc, that every column panel reuses). On a Zen 4 core's
// 1 MiB L2 the block spills to L3; it is only used when A is too large to stay in L2 itself.
constexpr int64_t kCBlockFloats = 256 * 1024;

// A packed A this small (768 KiB, three quarters of a Zen 4 core's 1 MiB L2) stays in L2 while all
// of B streams past it, with room left for a B panel and the C tiles it updates.
constexpr int64_t kAInL2Floats = 192 * 1024;

// Packed B that multiply() packs and consumes at a time when A stays in L2: 256 KiB, so the group
// is still in L2 when the kernel reads it back.
constexpr int64_t kBGroupFloats = 64 * 1024;

// B panels whose packing shares one sweep down the rows of B (a row-major B), and how many rows
// ahead that sweep asks for: rows of a large B are far apart, so only a software prefetch keeps
// several of their reads in flight (ResNet-34's first 3×3 GEMM, 64 × 50176 × 576 with packing,
// went from 61% to 70% of the FMA peak on one thread).
constexpr int64_t kPackStripPanels = 8;
constexpr int64_t kPackPrefetchRows = 6;

bool a_fits_l2(int64_t m, int64_t k) {
  return round_up(m, kMr) * k <= kAInL2Floats;
}

// Column panels of C updated together by multiply_packed when A does not stay in L2.
int64_t c_block_panels(int64_t m) {
  return std::max<int64_t>(1, kCBlockFloats / (round_up(m, kMr) * kNr));
}

// Column panels that multiply() packs and multiplies at a time: few enough for their packed B to
// stay in L2 when A does too, else a whole C block, so that each pass over A serves all of it.
int64_t b_group_panels(int64_t m, int64_t k) {
  return a_fits_l2(m, k) ? std::max<int64_t>(1, kBGroupFloats / (kNr * k)) : c_block_panels(m);
}

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

#elif defined(__AVX2__)

// The AVX2 lanes of vector `vector` (columns 8·vector .. 8·vector+7) that hold one of the first
// `cols` columns, as the sign-bit mask that maskload and maskstore take.
__m256i lane_mask(int64_t cols, int vector) {
  const int live = static_cast<int>(std::clamp<int64_t>(cols - 8 * vector, 0, 8));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(live), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// One kMr × kNr tile: 12 accumulators in ymm registers; each depth step loads three B vectors and
// broadcasts four A values into 12 FMAs, which keeps 16 registers busy and no more (AVX2 has 16).
void kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
            int64_t rows, int64_t cols) {
  __m256 acc[kMr][3];
#pragma GCC unroll 4
  for (int i = 0; i < kMr; ++i) {
    acc[i][0] = _mm256_setzero_ps();
    acc[i][1] = _mm256_setzero_ps();
    acc[i][2] = _mm256_setzero_ps();
  }
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_loadu_ps(b);
    const __m256 b1 = _mm256_loadu_ps(b + 8);
    const __m256 b2 = _mm256_loadu_ps(b + 16);
#pragma GCC unroll 4
    for (int i = 0; i < kMr; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
      acc[i][2] = _mm256_fmadd_ps(ai, b2, acc[i][2]);
    }
    a += kMr;
    b += kNr;
  }
  if (rows == kMr && cols == kNr) {
#pragma GCC unroll 4
    for (int i = 0; i < kMr; ++i) {
      float* ci = c + i * ldc;
      for (int v = 0; v < 3; ++v) {
        __m256 value = acc[i][v];
        if (accumulate) value = _mm256_add_ps(value, _mm256_loadu_ps(ci + 8 * v));
        _mm256_storeu_ps(ci + 8 * v, value);
      }
    }
    return;
  }
  // Unrolled, so that every accumulator is named at compile time: indexed at run time, the tile
  // needed a memory copy, and GCC stored all 12 accumulators on every depth step wherever it did
  // not inline the kernel (half the speed).
  const __m256i masks[3] = {lane_mask(cols, 0), lane_mask(cols, 1), lane_mask(cols, 2)};
#pragma GCC unroll 4
  for (int i = 0; i < kMr; ++i) {
    if (i >= rows) break;
    float* ci = c + i * ldc;
#pragma GCC unroll 3
    for (int v = 0; v < 3; ++v) {
      if (8 * v >= cols) break;
      __m256 value = acc[i][v];
      if (accumulate) value = _mm256_add_ps(value, _mm256_maskload_ps(ci + 8 * v, masks[v]));
      _mm256_maskstore_ps(ci + 8 * v, masks[v], value);
    }
  }
}

#else

// Portable tile: plain loops over a small tile that the compiler vectorises for the target. Fully
// unrolled, GCC keeps the tile in vector registers (all of it in NEON's 32, half of it in SSE2's
// 16) and broadcasts the four A values from one load; rolled, it vectorised across depth steps
// with shuffles and spilled every accumulator, four times slower. A 4 × 8 tile, all in SSE2
// registers, was 10% slower: without FMA, instruction issue bounds SSE2, not the spills.
void kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
            int64_t rows, int64_t cols) {
  float acc[kMr][kNr] = {};
  for (int64_t p = 0; p < kc; ++p) {
#pragma GCC unroll 4
    for (int i = 0; i < kMr; ++i) {
#pragma GCC unroll 16
      for (int j = 0; j < kNr; ++j) acc[i][j] += a[i] * b[j];
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

// Panels [first, last) of A, packed into their places in `packed`.
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

// Asks for the cache lines of floats [0, count) of `data` ahead of their use.
void prefetch_span(const float* data, int64_t count) {
  for (int64_t l = 0; l < count; l += 16) __builtin_prefetch(data + l);
}

// Panels [first, last) of a row-major B (contiguous rows), panel j at dst + (j − first)·kNr·k.
// A strip of panels is packed per sweep down the rows, so each row is read in one run of the
// strip's width rather than kNr floats at a time from rows far apart.
void pack_b_rows(View b, int64_t k, int64_t n, int64_t first, int64_t last, float* dst) {
  for (int64_t s0 = first; s0 < last; s0 += kPackStripPanels) {
    const int64_t s1 = std::min(last, s0 + kPackStripPanels);
    const int64_t span = std::min(n, s1 * kNr) - s0 * kNr;
    for (int64_t p = 0; p < k; ++p) {
      const float* src = b.data + p * b.row_stride;
      if (p + kPackPrefetchRows < k) {
        prefetch_span(src + kPackPrefetchRows * b.row_stride + s0 * kNr, span);
      }
      for (int64_t j = s0; j < s1; ++j) {
        float* out = dst + (j - first) * kNr * k + p * kNr;
        const int64_t col0 = j * kNr, live = std::min(kNr, n - col0);
        std::memcpy(out, src + col0, sizeof(float) * live);
        std::fill(out + live, out + kNr, 0.0f);
      }
    }
  }
}

// The same for a B whose columns are contiguous (a transposed view): each column read in order.
void pack_b_columns(View b, int64_t k, int64_t n, int64_t first, int64_t last, float* dst) {
  for (int64_t j = first; j < last; ++j) {
    float* out = dst + (j - first) * kNr * k;
    const int64_t col0 = j * kNr, live = std::min(kNr, n - col0);
    for (int64_t l = 0; l < kNr; ++l) {
      if (l >= live) {
        for (int64_t p = 0; p < k; ++p) out[p * kNr + l] = 0.0f;
        continue;
      }
      const float* src = b.data + (col0 + l) * b.col_stride;
      for (int64_t p = 0; p < k; ++p) out[p * kNr + l] = src[p * b.row_stride];
    }
  }
}

void pack_b_panels(View b, int64_t k, int64_t n, int64_t first, int64_t last, float* dst) {
  if (b.col_stride == 1) {
    pack_b_rows(b, k, n, first, last, dst);
  } else {
    pack_b_columns(b, k, n, first, last, dst);
  }
}

}  // namespace

void pack_a(View a, int64_t m, int64_t k, float* packed, int64_t first, int64_t last) {
  pack_a_panels(a, m, k, first, last < 0 ? panels(m, kMr) : last, packed);
}

void pack_b(View b, int64_t k, int64_t n, float* packed, int64_t first, int64_t last) {
  pack_b_panels(b, k, n, first, last < 0 ? panels(n, kNr) : last, packed + first * kNr * k);
}

namespace {
// A product of depth 0 is a sum over nothing: C becomes zeros, or stays as it is when accumulating.
void multiply_no_depth(int64_t m, int64_t n, float* c, int64_t ldc, bool accumulate) {
  if (accumulate) return;
  for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
}
}  // namespace

void multiply_packed(int64_t m, int64_t n, int64_t k, const float* a_packed, int64_t a_stride,
                     const float* b_packed, int64_t b_stride, float* c, int64_t ldc,
                     bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return multiply_no_depth(m, n, c, ldc, accumulate);
  const int64_t kc = depth_block(k);
  const int64_t row_panels = panels(m, kMr), col_panels = panels(n, kNr);
  // Column blocks whose slice of C (m × block) stays in L2 while every depth block adds into it:
  // walking all of C once per depth block re-streamed it from L3 when C is large (a 256 × 2304
  // weight gradient is 2.3 MiB, more than the core's L2). When all of A stays in L2, one panel
  // per block: each B panel is then read once, front to back, and its slice of C stays in L1
  // (ResNet-34's 64-channel 3×3 GEMM went from 65% to 80% of the FMA peak). Each element of C
  // still receives its depth blocks in order, so the sums are unchanged by the blocking.
  const int64_t block = a_fits_l2(m, k) ? 1 : c_block_panels(m);
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

namespace {

// Columns [j0, j1) (in panels) of C = A·B from a packed A, packing B a group of panels at a time
// into the calling thread's scratch just before multiplying it, so the kernel reads B back from
// cache: packing all of B first wrote it out to memory and read it back (115 MiB at ResNet-34's
// first 3×3 layer, as long as a third of the multiply).
void multiply_columns(int64_t m, int64_t n, int64_t k, const float* a_packed, View b, int64_t j0,
                      int64_t j1, float* c, int64_t ldc, bool accumulate) {
  const int64_t group = b_group_panels(m, k);
  const int64_t most = std::min(j1 - j0, group);
  float* b_packed = scratch(ScratchSlot::packed_b, packed_b_floats(k, most * kNr));
  for (int64_t g0 = j0; g0 < j1; g0 += group) {
    const int64_t g1 = std::min(j1, g0 + group);
    pack_b_panels(b, k, n, g0, g1, b_packed);
    const int64_t cols = std::min(n, g1 * kNr) - g0 * kNr;
    multiply_packed(m, cols, k, a_packed, kMr * k, b_packed, kNr * k, c + g0 * kNr, ldc,
                    accumulate);
  }
}

}  // namespace

int64_t tile_rows() {
  return kMr;
}
int64_t tile_cols() {
  return kNr;
}

void multiply(int64_t m, int64_t n, int64_t k, View a, View b, float* c, int64_t ldc,
              bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return multiply_no_depth(m, n, c, ldc, accumulate);
  float* a_packed = scratch(ScratchSlot::packed_a, packed_a_floats(m, k));
  const int64_t row_panels = panels(m, kMr), col_panels = panels(n, kNr);
  // Split the wider dimension; each thread owns whole panels of C.
  const bool split_columns = col_panels >= row_panels;
  float* b_packed = split_columns ? nullptr : scratch(ScratchSlot::packed_b, packed_b_floats(k, n));
  // A fork/join costs a few microseconds: below ~4 MFLOP one thread finishes first.
  const bool big = 2.0 * static_cast<double>(m) * n * k > 4e6;
  const int threads = big ? num_threads() : 1;
  // Thread t of team packs its share of the shared operands (A, and B when splitting rows), then
  // computes its panels of C.
  auto share = [&](int64_t t, int64_t team) {
    pack_a_panels(a, m, k, row_panels * t / team, row_panels * (t + 1) / team, a_packed);
    const int64_t j0 = col_panels * t / team, j1 = col_panels * (t + 1) / team;
    if (!split_columns) pack_b_panels(b, k, n, j0, j1, b_packed + j0 * kNr * k);
    if (team > 1) {
#pragma omp barrier
    }
    if (split_columns) {
      if (j1 > j0) multiply_columns(m, n, k, a_packed, b, j0, j1, c, ldc, accumulate);
      return;
    }
    const int64_t i0 = row_panels * t / team, i1 = row_panels * (t + 1) / team;
    const int64_t rows = std::min(m, i1 * kMr) - i0 * kMr;
    if (rows > 0) {
      multiply_packed(rows, n, k, a_packed + i0 * kMr * k, kMr * k, b_packed, kNr * k,
                      c + i0 * kMr * ldc, ldc, accumulate);
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
