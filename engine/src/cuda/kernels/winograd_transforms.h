// Winograd F(2x2, 3x3) for 3x3, stride-1, padding-1 convolutions: the per-tile transforms and the
// per-thread bodies of the CUDA kernels (index math included), shared by nvcc and g++ so that a CPU
// test runs exactly the code the GPU runs (tests/ops/winograd_transform_test.cpp).
//
// Layouts of one chunk of `images` images, tiles_h = ceil(H/2), tiles_w = ceil(W/2),
// T = images * tiles_h * tiles_w, tile index t = (image * tiles_h + ty) * tiles_w + tx:
//   U  (16, Kout, Cin)     transformed filters
//   V  (16, S, Cin, Ts)    transformed input tiles, the tiles cut into S slices of Ts (TileLayout)
//   M  (16, Kout, T)       M[xi] = U[xi] · V[xi] (with S = 1)
//   dYt (16, S, K, Ts)     transformed output-gradient tiles
//   dU (16, S, K, C)       dU[xi][s] = dYt[xi][s] · V[xi][s]ᵀ: the gradient of U, one partial sum per
//                          slice, so that the long sum over tiles runs as 16·S GEMMs instead of 16
//                          GEMMs too few to fill the device; the slices are added in a fixed order.
// Tile (ty, tx) reads input rows 2ty-1 .. 2ty+2 and columns 2tx-1 .. 2tx+2 (zero outside the image)
// and produces output rows 2ty, 2ty+1 and columns 2tx, 2tx+1 (those past H or W are dropped).
#pragma once

#include <cstdint>

#include "keel/host_device.h"

namespace keel::winograd {

inline constexpr int kTile = 4;           // input tile edge
inline constexpr int kOut = 2;            // output tile edge
inline constexpr int kPoints = 16;        // transformed points per tile (kTile²)

KEEL_HOST_DEVICE int64_t tiles_along(int64_t size) { return (size + kOut - 1) / kOut; }

// ---- The transforms of one tile (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks")
// Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 -1 -1].
// Each is applied as two one-dimensional passes (columns, then rows), written out so that no
// matrix of constants multiplies zeros.

// u (4x4) = G g Gᵀ for a 3x3 filter g (row-major).
KEEL_HOST_DEVICE void filter_transform(const float g[9], float u[16]) {
  float t[12];  // G g: 4x3
  for (int j = 0; j < 3; ++j) {
    const float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
    t[j] = g0;
    t[3 + j] = 0.5f * (g0 + g1 + g2);
    t[6 + j] = 0.5f * (g0 - g1 + g2);
    t[9 + j] = g2;
  }
  for (int i = 0; i < 4; ++i) {  // (G g) Gᵀ: 4x4
    const float a = t[3 * i], b = t[3 * i + 1], c = t[3 * i + 2];
    u[4 * i] = a;
    u[4 * i + 1] = 0.5f * (a + b + c);
    u[4 * i + 2] = 0.5f * (a - b + c);
    u[4 * i + 3] = c;
  }
}

// v (4x4) = Bᵀ d B for an input tile d (4x4, row-major).
KEEL_HOST_DEVICE void input_transform(const float d[16], float v[16]) {
  float t[16];  // Bᵀ d
  for (int j = 0; j < 4; ++j) {
    const float d0 = d[j], d1 = d[4 + j], d2 = d[8 + j], d3 = d[12 + j];
    t[j] = d0 - d2;
    t[4 + j] = d1 + d2;
    t[8 + j] = d2 - d1;
    t[12 + j] = d1 - d3;
  }
  for (int i = 0; i < 4; ++i) {  // (Bᵀ d) B
    const float a = t[4 * i], b = t[4 * i + 1], c = t[4 * i + 2], e = t[4 * i + 3];
    v[4 * i] = a - c;
    v[4 * i + 1] = b + c;
    v[4 * i + 2] = c - b;
    v[4 * i + 3] = b - e;
  }
}

// y (2x2) = Aᵀ m A for a product tile m (4x4).
KEEL_HOST_DEVICE void output_transform(const float m[16], float y[4]) {
  float t[8];  // Aᵀ m: 2x4
  for (int j = 0; j < 4; ++j) {
    const float m0 = m[j], m1 = m[4 + j], m2 = m[8 + j], m3 = m[12 + j];
    t[j] = m0 + m1 + m2;
    t[4 + j] = m1 - m2 - m3;
  }
  for (int i = 0; i < 2; ++i) {  // (Aᵀ m) A
    const float a = t[4 * i], b = t[4 * i + 1], c = t[4 * i + 2], e = t[4 * i + 3];
    y[2 * i] = a + b + c;
    y[2 * i + 1] = b - c - e;
  }
}

// The adjoint of output_transform: dm (4x4) = A dy Aᵀ for an output-gradient tile dy (2x2), the
// gradient of the loss with respect to the product tile m = U ⊙ V.
KEEL_HOST_DEVICE void output_grad_transform(const float dy[4], float dm[16]) {
  float t[8];  // dy Aᵀ: 2x4
  for (int i = 0; i < 2; ++i) {
    const float a = dy[2 * i], b = dy[2 * i + 1];
    t[4 * i] = a;
    t[4 * i + 1] = a + b;
    t[4 * i + 2] = a - b;
    t[4 * i + 3] = -b;
  }
  for (int j = 0; j < 4; ++j) {  // A (dy Aᵀ)
    const float a = t[j], b = t[4 + j];
    dm[j] = a;
    dm[4 + j] = a + b;
    dm[8 + j] = a - b;
    dm[12 + j] = -b;
  }
}

// The adjoint of filter_transform: dg (3x3) = Gᵀ du G, the filter gradient from the gradient du of
// u = G g Gᵀ.
KEEL_HOST_DEVICE void filter_grad_transform(const float du[16], float dg[9]) {
  float t[12];  // Gᵀ du: 3x4
  for (int j = 0; j < 4; ++j) {
    const float a = du[j], b = du[4 + j], c = du[8 + j], e = du[12 + j];
    t[j] = a + 0.5f * (b + c);
    t[4 + j] = 0.5f * (b - c);
    t[8 + j] = 0.5f * (b + c) + e;
  }
  for (int i = 0; i < 3; ++i) {  // (Gᵀ du) G
    const float a = t[4 * i], b = t[4 * i + 1], c = t[4 * i + 2], e = t[4 * i + 3];
    dg[3 * i] = a + 0.5f * (b + c);
    dg[3 * i + 1] = 0.5f * (b - c);
    dg[3 * i + 2] = 0.5f * (b + c) + e;
  }
}

// ---- Per-thread bodies: one call per (output channel, input channel), (channel, tile) or
// (output channel, input channel) pair; the CUDA kernels are grid-stride loops over these, with
// consecutive threads on consecutive innermost indices (cin or t) so that the 16 strided stores of
// each thread are coalesced across a warp.

// U[xi][kout][cin] from w. Forward (flip = false): w is (Kout, Cin, 3, 3). Backward data
// (flip = true): the convolution of dy by w turned 180° with its two channel axes swapped, so w is
// the forward filter (Cin, Kout, 3, 3) and g[p][q] = w[cin][kout][2-p][2-q].
KEEL_HOST_DEVICE void filter_transform_at(const float* w, int64_t kout_count, int64_t cin_count, bool flip,
                                          int64_t kout, int64_t cin, float* u_all) {
  float g[9];
  if (!flip) {
    const float* src = w + (kout * cin_count + cin) * 9;
    for (int i = 0; i < 9; ++i) g[i] = src[i];
  } else {
    const float* src = w + (cin * kout_count + kout) * 9;
    for (int i = 0; i < 9; ++i) g[i] = src[8 - i];
  }
  float u[16];
  filter_transform(g, u);
  const int64_t point_stride = kout_count * cin_count;
  float* dst = u_all + kout * cin_count + cin;
  for (int xi = 0; xi < kPoints; ++xi) dst[xi * point_stride] = u[xi];
}

// Which image and tile a tile index t names.
struct TileIndex {
  int64_t image, ty, tx;
};
KEEL_HOST_DEVICE TileIndex tile_index(int64_t t, int64_t tiles_h, int64_t tiles_w) {
  const int64_t per_image = tiles_h * tiles_w;
  const int64_t image = t / per_image;
  const int64_t rest = t - image * per_image;
  const int64_t ty = rest / tiles_w;
  return TileIndex{image, ty, rest - ty * tiles_w};
}

// Where tile t of row `row` (channel) of a (16, S, rows, Ts) buffer lies. Tiles t in [T, S·Ts) pad
// the last slice and hold zeros.
struct TileLayout {
  int64_t tiles;      // T
  int64_t slices;     // S
  int64_t slice_len;  // Ts = ceil(T / S)
  KEEL_HOST_DEVICE int64_t padded() const { return slices * slice_len; }
  KEEL_HOST_DEVICE int64_t point_stride(int64_t rows) const { return rows * padded(); }
  KEEL_HOST_DEVICE int64_t offset(int64_t rows, int64_t row, int64_t t) const {
    const int64_t s = t / slice_len;
    return (s * rows + row) * slice_len + (t - s * slice_len);
  }
};
KEEL_HOST_DEVICE TileLayout tile_layout(int64_t tiles, int64_t slices) {
  return TileLayout{tiles, slices, (tiles + slices - 1) / slices};
}

// V[xi][c][t] = (Bᵀ d B)[xi] for the 4x4 tile d of channel c of x (images, C, H, W); t runs over
// the padded tiles of the layout.
KEEL_HOST_DEVICE void input_transform_at(const float* x, int64_t channels, int64_t h, int64_t w,
                                         const TileLayout& layout, int64_t c, int64_t t, float* v_all) {
  float v[16];
  if (t < layout.tiles) {
    const TileIndex ti = tile_index(t, tiles_along(h), tiles_along(w));
    const float* plane = x + (ti.image * channels + c) * h * w;
    const int64_t y0 = ti.ty * kOut - 1, x0 = ti.tx * kOut - 1;
    float d[16];
    for (int i = 0; i < kTile; ++i) {
      const int64_t yy = y0 + i;
      const bool row_in = yy >= 0 && yy < h;
      for (int j = 0; j < kTile; ++j) {
        const int64_t xx = x0 + j;
        d[kTile * i + j] = (row_in && xx >= 0 && xx < w) ? plane[yy * w + xx] : 0.0f;
      }
    }
    input_transform(d, v);
  } else {
    for (int xi = 0; xi < kPoints; ++xi) v[xi] = 0.0f;
  }
  const int64_t point_stride = layout.point_stride(channels);
  float* dst = v_all + layout.offset(channels, c, t);
  for (int xi = 0; xi < kPoints; ++xi) dst[xi * point_stride] = v[xi];
}

// The 2x2 output tile of channel k at tile t from M[xi][k][t], plus bias[k] when bias is not null,
// written into y (images, K, H, W) where it falls inside the plane.
KEEL_HOST_DEVICE void output_transform_at(const float* m_all, int64_t k_count, int64_t h, int64_t w,
                                          int64_t tiles, const float* bias, int64_t k, int64_t t, float* y) {
  const int64_t point_stride = k_count * tiles;
  const float* src = m_all + k * tiles + t;
  float m[16];
  for (int xi = 0; xi < kPoints; ++xi) m[xi] = src[xi * point_stride];
  float out[4];
  output_transform(m, out);
  const float b = bias ? bias[k] : 0.0f;
  const TileIndex ti = tile_index(t, tiles_along(h), tiles_along(w));
  float* plane = y + (ti.image * k_count + k) * h * w;
  for (int i = 0; i < kOut; ++i) {
    const int64_t yy = ti.ty * kOut + i;
    if (yy >= h) break;
    for (int j = 0; j < kOut; ++j) {
      const int64_t xx = ti.tx * kOut + j;
      if (xx < w) plane[yy * w + xx] = out[kOut * i + j] + b;
    }
  }
}

// dYt[xi][k][t] = (A dy Aᵀ)[xi] for the 2x2 tile of channel k of dy (images, K, H, W), zero where
// the tile hangs past the plane (those outputs were dropped, so their gradient is zero) and for the
// padding tiles of the layout.
KEEL_HOST_DEVICE void output_grad_transform_at(const float* dy, int64_t k_count, int64_t h, int64_t w,
                                               const TileLayout& layout, int64_t k, int64_t t, float* dyt_all) {
  float g[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  if (t < layout.tiles) {
    const TileIndex ti = tile_index(t, tiles_along(h), tiles_along(w));
    const float* plane = dy + (ti.image * k_count + k) * h * w;
    for (int i = 0; i < kOut; ++i) {
      const int64_t yy = ti.ty * kOut + i;
      for (int j = 0; j < kOut; ++j) {
        const int64_t xx = ti.tx * kOut + j;
        if (yy < h && xx < w) g[kOut * i + j] = plane[yy * w + xx];
      }
    }
  }
  float dm[16];
  output_grad_transform(g, dm);
  const int64_t point_stride = layout.point_stride(k_count);
  float* dst = dyt_all + layout.offset(k_count, k, t);
  for (int xi = 0; xi < kPoints; ++xi) dst[xi * point_stride] = dm[xi];
}

// dw[k][c] (3x3) = Gᵀ (Σ_s dU[·][s][k][c]) G, from dU (16, S, K, C) into dw (K, C, 3, 3). The
// slices are added in order s = 0, 1, ..., so the result does not depend on scheduling.
KEEL_HOST_DEVICE void filter_grad_transform_at(const float* du_all, int64_t k_count, int64_t c_count,
                                               int64_t slices, int64_t k, int64_t c, float* dw) {
  const int64_t matrix = k_count * c_count;
  const float* src = du_all + k * c_count + c;
  float du[16];
  for (int xi = 0; xi < kPoints; ++xi) {
    const float* point = src + xi * slices * matrix;
    float sum = point[0];
    for (int64_t s = 1; s < slices; ++s) sum += point[s * matrix];
    du[xi] = sum;
  }
  float dg[9];
  filter_grad_transform(du, dg);
  float* dst = dw + (k * c_count + c) * 9;
  for (int i = 0; i < 9; ++i) dst[i] = dg[i];
}

}  // namespace keel::winograd
