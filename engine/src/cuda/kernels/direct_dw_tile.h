// The direct filter gradient of a convolution whose filter row is short (C·R·S <= 160; ResNet's
// 7x7 stem has 147): dw (K, CRS) = Σ over the output positions l = (n, p, q) of
// dy[n, k, p, q] · patch_l[j], with patch_l[j] = x[n, c, p·stride − pad + r, q·stride − pad + s] for
// j = (c, r, s). The im2col path writes all patches out as a column matrix (472 MB for the stem at
// batch 64) and transposes dy before one long GEMM; here each thread block takes a run of positions
// and one tile of 64 output channels, gathers the patches and dy of 32 positions at a time into
// shared memory, and keeps a 64 x 160 partial of dw in registers (8 x 10 per thread). The partials
// of the blocks are then added in block order (launch_sum_parts), so the result is deterministic.
//
// The per-thread bodies of the kernel's phases live here, shared by nvcc and g++, so a CPU test
// runs exactly the index arithmetic the GPU runs, block by block and phase by phase
// (tests/ops/direct_dw_tile_test.cpp).
#pragma once

#include <cstdint>

#include "keel/host_device.h"

namespace keel::direct_dw {

inline constexpr int kTileK = 64;                 // output channels per block
inline constexpr int kTileJ = 160;                // filter entries per block (C·R·S, padded)
inline constexpr int kTileL = 32;                 // positions per shared-memory tile
inline constexpr int kThreads = 128;              // 8 channel rows x 16 entry columns
inline constexpr int kPerThreadK = kTileK / 8;    // 8 channels per thread
inline constexpr int kPerThreadJ = kTileJ / 16;   // 10 entries per thread, 16 apart
// dy rows of 68 floats: 16-byte aligned for vector reads, and a warp storing 32 positions of one
// channel meets at most 4-way bank conflicts instead of 32.
inline constexpr int kDyStride = kTileK + 4;

struct Problem {
  int64_t n, c, h, w;        // input
  int64_t k, r, s;           // filter
  int64_t out_h, out_w;      // output plane
  int64_t stride, padding;
  KEEL_HOST_DEVICE int64_t crs() const { return c * r * s; }
  KEEL_HOST_DEVICE int64_t plane() const { return out_h * out_w; }
  KEEL_HOST_DEVICE int64_t positions() const { return n * plane(); }
};

// Only these shapes: the filter row fits one tile.
inline bool supported(const Problem& p) { return p.crs() >= 1 && p.crs() <= kTileJ; }

struct alignas(16) Smem {
  float dy[kTileL][kDyStride];  // dy of the tile's positions, by position then channel
  float x[kTileL][kTileJ];      // their patches, by position then filter entry
  // Per position, computed once per tile so the loads need no division: the x offset of
  // (n, 0, ih0, iw0) (negative where the window starts in the padding), the dy offset of
  // (n, 0, p, q), the window's top-left input row and column, and whether the position exists.
  int64_t x_base[kTileL];
  int64_t dy_base[kTileL];
  int ih0[kTileL], iw0[kTileL];
  int valid[kTileL];
  int64_t entry_offset[kTileJ];  // c·H·W + r·W + s of each filter entry
  int entry_r[kTileJ], entry_s[kTileJ];  // r and s, or a row no window reaches past C·R·S
};

// How the positions are split: about four blocks per multiprocessor in all, each a whole number of
// tiles.
struct Split {
  int64_t chunk;   // positions per block
  int64_t blocks;  // blocks along the positions
};
inline Split split_positions(int64_t positions, int64_t k_tiles, int multiprocessors) {
  const int64_t wanted = (4 * static_cast<int64_t>(multiprocessors) + k_tiles - 1) / k_tiles;
  int64_t chunk = (positions + wanted - 1) / wanted;
  chunk = (chunk + kTileL - 1) / kTileL * kTileL;
  if (chunk < kTileL) chunk = kTileL;
  return {chunk, (positions + chunk - 1) / chunk};
}

// ---- Phase 0, once per block: the filter-entry table. ----
KEEL_HOST_DEVICE void fill_entry_table(const Problem& p, int t, Smem& sm) {
  const int64_t rs = p.r * p.s;
  for (int j = t; j < kTileJ; j += kThreads) {
    if (j < p.crs()) {
      const int64_t c = j / rs, r = (j % rs) / p.s, s = j % p.s;
      sm.entry_offset[j] = (c * p.h + r) * p.w + s;
      sm.entry_r[j] = static_cast<int>(r);
      sm.entry_s[j] = static_cast<int>(s);
    } else {
      sm.entry_offset[j] = 0;
      sm.entry_r[j] = static_cast<int>(p.h + 2 * p.padding + 1);  // fails every bounds check
      sm.entry_s[j] = 0;
    }
  }
}

// ---- Phase 1, per tile: where each of the tile's positions l0 .. l0 + 31 reads. ----
KEEL_HOST_DEVICE void locate_positions(const Problem& p, int64_t l0, int64_t l_end, int t, Smem& sm) {
  if (t >= kTileL) return;
  const int64_t l = l0 + t;
  sm.valid[t] = l < l_end;
  if (l >= l_end) {
    sm.x_base[t] = sm.dy_base[t] = 0;
    sm.ih0[t] = sm.iw0[t] = 0;
    return;
  }
  const int64_t n = l / p.plane(), pq = l % p.plane();
  const int64_t ih0 = (pq / p.out_w) * p.stride - p.padding, iw0 = (pq % p.out_w) * p.stride - p.padding;
  sm.x_base[t] = n * p.c * p.h * p.w + ih0 * p.w + iw0;
  sm.dy_base[t] = n * p.k * p.plane() + pq;
  sm.ih0[t] = static_cast<int>(ih0);
  sm.iw0[t] = static_cast<int>(iw0);
}

// ---- Phase 2, per tile: dy and the patches into shared memory (zeros past the edges). ----
// dy: the 32 threads of a warp take 32 consecutive positions of one channel (consecutive addresses
// within an image); each thread covers 16 channels, 4 apart.
KEEL_HOST_DEVICE void load_dy(const Problem& p, const float* dy, int64_t k0, int t, Smem& sm) {
  const int li = t % kTileL;
  for (int kk = t / kTileL; kk < kTileK; kk += kThreads / kTileL) {
    const int64_t k = k0 + kk;
    sm.dy[li][kk] = sm.valid[li] && k < p.k ? dy[sm.dy_base[li] + k * p.plane()] : 0.0f;
  }
}

// Patches: consecutive threads take consecutive filter entries of one position (neighbouring
// columns of one input row for the inner s). The unsigned comparisons also reject negative rows
// and columns.
KEEL_HOST_DEVICE void load_patches(const Problem& p, const float* x, int t, Smem& sm) {
  for (int e = t; e < kTileL * kTileJ; e += kThreads) {
    const int li = e / kTileJ, j = e % kTileJ;
    const int ih = sm.ih0[li] + sm.entry_r[j], iw = sm.iw0[li] + sm.entry_s[j];
    const bool inside = sm.valid[li] && static_cast<unsigned>(ih) < static_cast<unsigned>(p.h) &&
                        static_cast<unsigned>(iw) < static_cast<unsigned>(p.w);
    sm.x[li][j] = inside ? x[sm.x_base[li] + sm.entry_offset[j]] : 0.0f;
  }
}

// ---- Phase 3, per tile: the thread's 8 x 10 block of the partial. Thread t holds channels
// 8·(t / 16) .. +7 and entries t % 16 + 16·i: a warp reads two dy rows (broadcast) and 16
// consecutive patch entries (no bank conflicts).
KEEL_HOST_DEVICE void accumulate(const Smem& sm, int t, float acc[kPerThreadK][kPerThreadJ]) {
  const int k_first = (t / 16) * kPerThreadK, j_first = t % 16;
  for (int li = 0; li < kTileL; ++li) {
    float a[kPerThreadK], b[kPerThreadJ];
    for (int m = 0; m < kPerThreadK; ++m) a[m] = sm.dy[li][k_first + m];
    for (int i = 0; i < kPerThreadJ; ++i) b[i] = sm.x[li][j_first + 16 * i];
    for (int m = 0; m < kPerThreadK; ++m)
      for (int i = 0; i < kPerThreadJ; ++i) acc[m][i] += a[m] * b[i];
  }
}

// ---- Phase 4, once per block: its partial (K, CRS) rows k0 .. k0 + 63. ----
KEEL_HOST_DEVICE void store_partial(const Problem& p, const float acc[kPerThreadK][kPerThreadJ], int t, int64_t k0,
                                    float* partial) {
  const int k_first = (t / 16) * kPerThreadK, j_first = t % 16;
  for (int m = 0; m < kPerThreadK; ++m) {
    const int64_t k = k0 + k_first + m;
    if (k >= p.k) break;
    for (int i = 0; i < kPerThreadJ; ++i) {
      const int64_t j = j_first + 16 * i;
      if (j < p.crs()) partial[k * p.crs() + j] = acc[m][i];
    }
  }
}

}  // namespace keel::direct_dw
