// Winograd F(2x2, 3x3) transform kernels (see winograd.cuh): grid-stride loops over the per-thread
// bodies of winograd_transforms.h, which the CPU test runs as well. The innermost index of each loop
// is the innermost index of the buffer written (cin or the tile t), so the 16 stores of a thread land
// next to its neighbours' and coalesce.
#include "grid_stride.cuh"
#include "winograd.cuh"

#include "cuda/check.h"
#include "cuda/context.h"
#include "winograd_transforms.h"

namespace keel::cuda {

namespace {

namespace wg = keel::winograd;

__global__ void filter_transform_kernel(const float* __restrict__ w, int64_t kout, int64_t cin, bool flip,
                                        float* __restrict__ u) {
  const size_t total = static_cast<size_t>(kout * cin);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ko = static_cast<int64_t>(i / cin);
    wg::filter_transform_at(w, kout, cin, flip, ko, static_cast<int64_t>(i) - ko * cin, u);
  }
}

__global__ void input_transform_kernel(const float* __restrict__ x, int64_t c, int64_t h, int64_t w,
                                       wg::TileLayout layout, float* __restrict__ v) {
  const int64_t padded = layout.padded();
  const size_t total = static_cast<size_t>(c * padded);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ch = static_cast<int64_t>(i / padded);
    wg::input_transform_at(x, c, h, w, layout, ch, static_cast<int64_t>(i) - ch * padded, v);
  }
}

__global__ void output_transform_kernel(const float* __restrict__ m, int64_t k, int64_t h, int64_t w,
                                        int64_t tiles, const float* __restrict__ bias, float* __restrict__ y) {
  const size_t total = static_cast<size_t>(k * tiles);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ch = static_cast<int64_t>(i / tiles);
    wg::output_transform_at(m, k, h, w, tiles, bias, ch, static_cast<int64_t>(i) - ch * tiles, y);
  }
}

__global__ void output_grad_transform_kernel(const float* __restrict__ dy, int64_t k, int64_t h, int64_t w,
                                             wg::TileLayout layout, float* __restrict__ dyt) {
  const int64_t padded = layout.padded();
  const size_t total = static_cast<size_t>(k * padded);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ch = static_cast<int64_t>(i / padded);
    wg::output_grad_transform_at(dy, k, h, w, layout, ch, static_cast<int64_t>(i) - ch * padded, dyt);
  }
}

__global__ void filter_grad_transform_kernel(const float* __restrict__ du, int64_t k, int64_t c, int64_t slices,
                                             float* __restrict__ dw) {
  const size_t total = static_cast<size_t>(k * c);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t kk = static_cast<int64_t>(i / c);
    wg::filter_grad_transform_at(du, k, c, slices, kk, static_cast<int64_t>(i) - kk * c, dw);
  }
}

int64_t tile_count(int64_t images, int64_t h, int64_t w) {
  return images * wg::tiles_along(h) * wg::tiles_along(w);
}

}  // namespace

int64_t winograd_tiles(int64_t images, int64_t h, int64_t w) { return tile_count(images, h, w); }

int64_t winograd_buffer_floats(int64_t rows, int64_t tiles, int64_t slices) {
  return wg::kPoints * wg::tile_layout(tiles, slices).point_stride(rows);
}

void launch_winograd_filter_transform(const float* w, int64_t kout, int64_t cin, bool flip, float* u,
                                      cudaStream_t stream) {
  const size_t total = static_cast<size_t>(kout * cin);
  if (total == 0) return;
  filter_transform_kernel<<<grid_for(total, kWinogradBlock), kWinogradBlock, 0, stream>>>(w, kout, cin, flip, u);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_winograd_input_transform(const float* x, int64_t images, int64_t c, int64_t h, int64_t w,
                                     int64_t slices, float* v, cudaStream_t stream) {
  const wg::TileLayout layout = wg::tile_layout(tile_count(images, h, w), slices);
  const size_t total = static_cast<size_t>(c * layout.padded());
  if (total == 0) return;
  input_transform_kernel<<<grid_for(total, kWinogradBlock), kWinogradBlock, 0, stream>>>(x, c, h, w, layout, v);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_winograd_output_transform(const float* m, int64_t images, int64_t k, int64_t h, int64_t w,
                                      const float* bias, float* y, cudaStream_t stream) {
  const int64_t tiles = tile_count(images, h, w);
  const size_t total = static_cast<size_t>(k * tiles);
  if (total == 0) return;
  output_transform_kernel<<<grid_for(total, kWinogradBlock), kWinogradBlock, 0, stream>>>(m, k, h, w, tiles,
                                                                                          bias, y);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_winograd_output_grad_transform(const float* dy, int64_t images, int64_t k, int64_t h, int64_t w,
                                           int64_t slices, float* dyt, cudaStream_t stream) {
  const wg::TileLayout layout = wg::tile_layout(tile_count(images, h, w), slices);
  const size_t total = static_cast<size_t>(k * layout.padded());
  if (total == 0) return;
  output_grad_transform_kernel<<<grid_for(total, kWinogradBlock), kWinogradBlock, 0, stream>>>(dy, k, h, w,
                                                                                               layout, dyt);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_winograd_filter_grad_transform(const float* du, int64_t k, int64_t c, int64_t slices, float* dw,
                                           cudaStream_t stream) {
  const size_t total = static_cast<size_t>(k * c);
  if (total == 0) return;
  filter_grad_transform_kernel<<<grid_for(total, kWinogradBlock), kWinogradBlock, 0, stream>>>(du, k, c, slices,
                                                                                               dw);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
