// Winograd F(4x4, 3x3) for 3x3, stride-1, padding-1 convolutions on large planes: the per-tile
// transforms and the per-thread bodies of the CUDA kernels, shared by nvcc and g++ so that a CPU test
// runs exactly the code the GPU runs (tests/ops/winograd4_transform_test.cpp).
//
// Why a second tile size: F(2x2) stores 16 transformed values per 4 outputs (4x the input and 4x
// the output in the buffers around its GEMMs); F(4x4) stores 36 per 16 (2.25x), so on the 56x56 and
// 28x28 planes of ResNet, where the transforms are memory bound, it moves about 0.6x the bytes and
// does 0.56x the GEMM multiplies. The price is precision: the points 0, ±1, ±2 bring constants up
// to 8 into the output transform (fp32 relative error about 1e-6..1e-5 against 1e-7..1e-6 for F(2x2)).
//
// Layouts of one chunk of `images` images, tiles_h = ceil(H/4), tiles_w = ceil(W/4),
// T = images * tiles_h * tiles_w, tile index t = (image * tiles_h + ty) * tiles_w + tx:
//   U  (36, Kout, Cin)   transformed filters
//   V  (36, Cin, T)      transformed input tiles
//   M  (36, Kout, T)     M[xi] = U[xi] · V[xi]
// Tile (ty, tx) reads input rows 4ty-1 .. 4ty+4 and columns 4tx-1 .. 4tx+4 (zero outside the image)
// and produces output rows 4ty .. 4ty+3 and columns 4tx .. 4tx+3 (those past H or W are dropped).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define KEEL_W4_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define KEEL_W4_HOST_DEVICE inline
#endif

namespace keel::winograd4 {

inline constexpr int kTile = 6;     // input tile edge
inline constexpr int kOut = 4;      // output tile edge
inline constexpr int kPoints = 36;  // transformed points per tile (kTile²)

KEEL_W4_HOST_DEVICE int64_t tiles_along(int64_t size) { return (size + kOut - 1) / kOut; }

// ---- The transforms of one tile (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
// F(4x4, 3x3) with the points 0, 1, -1, 2, -2 and infinity):
//   Bᵀ = [4  0 -5  0 1 0;  0 -4 -4  1 1 0;  0 4 -4 -1 1 0;  0 -2 -1 2 1 0;  0 2 -1 -2 1 0;  0 4 0 -5 0 1]
//   G  = [1/4 0 0;  -1/6 -1/6 -1/6;  -1/6 1/6 -1/6;  1/24 1/12 1/6;  1/24 -1/12 1/6;  0 0 1]
//   Aᵀ = [1 1 1 1 1 0;  0 1 -1 2 -2 0;  0 1 1 4 4 0;  0 1 -1 8 -8 1]
// Each two-dimensional transform is the one-dimensional one on every column, then on every row.

// out[0..5 step os] = Bᵀ in[0..5 step is]
KEEL_W4_HOST_DEVICE void input_1d(const float* in, int is, float* out, int os) {
  const float d0 = in[0], d1 = in[is], d2 = in[2 * is], d3 = in[3 * is], d4 = in[4 * is], d5 = in[5 * is];
  out[0] = 4.0f * d0 - 5.0f * d2 + d4;
  out[os] = -4.0f * (d1 + d2) + d3 + d4;
  out[2 * os] = 4.0f * (d1 - d2) - d3 + d4;
  out[3 * os] = 2.0f * (d3 - d1) - d2 + d4;
  out[4 * os] = 2.0f * (d1 - d3) - d2 + d4;
  out[5 * os] = 4.0f * d1 - 5.0f * d3 + d5;
}

// out[0..5 step os] = G in[0..2 step is]
KEEL_W4_HOST_DEVICE void filter_1d(const float* in, int is, float* out, int os) {
  const float g0 = in[0], g1 = in[is], g2 = in[2 * is];
  out[0] = 0.25f * g0;
  out[os] = (-1.0f / 6.0f) * (g0 + g1 + g2);
  out[2 * os] = (-1.0f / 6.0f) * (g0 - g1 + g2);
  out[3 * os] = (1.0f / 24.0f) * g0 + (1.0f / 12.0f) * g1 + (1.0f / 6.0f) * g2;
  out[4 * os] = (1.0f / 24.0f) * g0 - (1.0f / 12.0f) * g1 + (1.0f / 6.0f) * g2;
  out[5 * os] = g2;
}

// out[0..3 step os] = Aᵀ in[0..5 step is]
KEEL_W4_HOST_DEVICE void output_1d(const float* in, int is, float* out, int os) {
  const float m0 = in[0], m1 = in[is], m2 = in[2 * is], m3 = in[3 * is], m4 = in[4 * is], m5 = in[5 * is];
  const float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
  out[0] = m0 + a + c;
  out[os] = b + 2.0f * d;
  out[2 * os] = a + 4.0f * c;
  out[3 * os] = b + 8.0f * d + m5;
}

// u (6x6) = G g Gᵀ for a 3x3 filter g (row-major).
KEEL_W4_HOST_DEVICE void filter_transform(const float g[9], float u[36]) {
  float t[18];  // G g: 6x3
  for (int j = 0; j < 3; ++j) filter_1d(g + j, 3, t + j, 3);
  for (int i = 0; i < 6; ++i) filter_1d(t + 3 * i, 1, u + 6 * i, 1);
}

// v (6x6) = Bᵀ d B for an input tile d (6x6, row-major).
KEEL_W4_HOST_DEVICE void input_transform(const float d[36], float v[36]) {
  float t[36];  // Bᵀ d
  for (int j = 0; j < 6; ++j) input_1d(d + j, 6, t + j, 6);
  for (int i = 0; i < 6; ++i) input_1d(t + 6 * i, 1, v + 6 * i, 1);
}

// y (4x4) = Aᵀ m A for a product tile m (6x6).
KEEL_W4_HOST_DEVICE void output_transform(const float m[36], float y[16]) {
  float t[24];  // Aᵀ m: 4x6
  for (int j = 0; j < 6; ++j) output_1d(m + j, 6, t + j, 6);
  for (int i = 0; i < 4; ++i) output_1d(t + 6 * i, 1, y + 4 * i, 1);
}

// ---- Per-thread bodies, one call per (output channel, input channel) or (channel, tile) pair; the
// CUDA kernels are grid-stride loops over these with consecutive threads on the innermost index of
// the buffer written (cin or the tile t), so that the 36 strided stores of a warp coalesce.

// U[xi][kout][cin] from w. Forward (flip = false): w is (Kout, Cin, 3, 3). Backward data
// (flip = true): the convolution of dy by w turned 180° with its two channel axes swapped, so w is
// the forward filter (Cin, Kout, 3, 3) and g[p][q] = w[cin][kout][2-p][2-q].
KEEL_W4_HOST_DEVICE void filter_transform_at(const float* w, int64_t kout_count, int64_t cin_count, bool flip,
                                             int64_t kout, int64_t cin, float* u_all) {
  float g[9];
  if (!flip) {
    const float* src = w + (kout * cin_count + cin) * 9;
    for (int i = 0; i < 9; ++i) g[i] = src[i];
  } else {
    const float* src = w + (cin * kout_count + kout) * 9;
    for (int i = 0; i < 9; ++i) g[i] = src[8 - i];
  }
  float u[kPoints];
  filter_transform(g, u);
  const int64_t point_stride = kout_count * cin_count;
  float* dst = u_all + kout * cin_count + cin;
  for (int xi = 0; xi < kPoints; ++xi) dst[xi * point_stride] = u[xi];
}

// Which image and tile a tile index t names.
struct TileIndex {
  int64_t image, ty, tx;
};
KEEL_W4_HOST_DEVICE TileIndex tile_index(int64_t t, int64_t tiles_h, int64_t tiles_w) {
  const int64_t per_image = tiles_h * tiles_w;
  const int64_t image = t / per_image;
  const int64_t rest = t - image * per_image;
  const int64_t ty = rest / tiles_w;
  return TileIndex{image, ty, rest - ty * tiles_w};
}

// V[xi][c][t] = (Bᵀ d B)[xi] for the 6x6 tile d of channel c of x (images, C, H, W), T tiles.
KEEL_W4_HOST_DEVICE void input_transform_at(const float* x, int64_t channels, int64_t h, int64_t w,
                                            int64_t tiles, int64_t c, int64_t t, float* v_all) {
  const TileIndex ti = tile_index(t, tiles_along(h), tiles_along(w));
  const float* plane = x + (ti.image * channels + c) * h * w;
  const int64_t y0 = ti.ty * kOut - 1, x0 = ti.tx * kOut - 1;
  float d[kPoints];
  for (int i = 0; i < kTile; ++i) {
    const int64_t yy = y0 + i;
    const bool row_in = yy >= 0 && yy < h;
    for (int j = 0; j < kTile; ++j) {
      const int64_t xx = x0 + j;
      d[kTile * i + j] = (row_in && xx >= 0 && xx < w) ? plane[yy * w + xx] : 0.0f;
    }
  }
  float v[kPoints];
  input_transform(d, v);
  const int64_t point_stride = channels * tiles;
  float* dst = v_all + c * tiles + t;
  for (int xi = 0; xi < kPoints; ++xi) dst[xi * point_stride] = v[xi];
}

// The 4x4 output tile of channel k at tile t from M[xi][k][t], plus bias[k] when bias is not null,
// written into y (images, K, H, W) where it falls inside the plane.
KEEL_W4_HOST_DEVICE void output_transform_at(const float* m_all, int64_t k_count, int64_t h, int64_t w,
                                             int64_t tiles, const float* bias, int64_t k, int64_t t, float* y) {
  const int64_t point_stride = k_count * tiles;
  const float* src = m_all + k * tiles + t;
  float m[kPoints];
  for (int xi = 0; xi < kPoints; ++xi) m[xi] = src[xi * point_stride];
  float out[kOut * kOut];
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

}  // namespace keel::winograd4
