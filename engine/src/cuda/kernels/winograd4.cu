// Winograd F(4x4, 3x3) transform kernels (see winograd4.cuh): grid-stride loops over the per-thread
// bodies of winograd4_transforms.h, which the CPU test runs as well. The innermost index of each loop
// is the innermost index of the buffer written (cin or the tile t), so the 36 stores of a thread land
// next to its neighbours' and coalesce.
#include "grid_stride.cuh"
#include "winograd4.cuh"

#include "cuda/check.h"
#include "cuda/context.h"
#include "winograd4_transforms.h"

namespace keel::cuda {

namespace {

namespace wg4 = keel::winograd4;

__global__ void filter_transform4_kernel(const float* __restrict__ w, int64_t kout, int64_t cin, bool flip,
                                         float* __restrict__ u) {
  const size_t total = static_cast<size_t>(kout * cin);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ko = static_cast<int64_t>(i / cin);
    wg4::filter_transform_at(w, kout, cin, flip, ko, static_cast<int64_t>(i) - ko * cin, u);
  }
}

__global__ void input_transform4_kernel(const float* __restrict__ x, int64_t c, int64_t h, int64_t w,
                                        int64_t tiles, float* __restrict__ v) {
  const size_t total = static_cast<size_t>(c * tiles);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ch = static_cast<int64_t>(i / tiles);
    wg4::input_transform_at(x, c, h, w, tiles, ch, static_cast<int64_t>(i) - ch * tiles, v);
  }
}

__global__ void output_transform4_kernel(const float* __restrict__ m, int64_t k, int64_t h, int64_t w,
                                         int64_t tiles, const float* __restrict__ bias, float* __restrict__ y) {
  const size_t total = static_cast<size_t>(k * tiles);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ch = static_cast<int64_t>(i / tiles);
    wg4::output_transform_at(m, k, h, w, tiles, bias, ch, static_cast<int64_t>(i) - ch * tiles, y);
  }
}

}  // namespace

int64_t winograd4_tiles(int64_t images, int64_t h, int64_t w) {
  return images * wg4::tiles_along(h) * wg4::tiles_along(w);
}

void launch_winograd4_filter_transform(const float* w, int64_t kout, int64_t cin, bool flip, float* u,
                                       cudaStream_t stream) {
  const size_t total = static_cast<size_t>(kout * cin);
  if (total == 0) return;
  filter_transform4_kernel<<<grid_for(total, kWinograd4Block), kWinograd4Block, 0, stream>>>(w, kout, cin, flip,
                                                                                             u);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_winograd4_input_transform(const float* x, int64_t images, int64_t c, int64_t h, int64_t w, float* v,
                                      cudaStream_t stream) {
  const int64_t tiles = winograd4_tiles(images, h, w);
  const size_t total = static_cast<size_t>(c * tiles);
  if (total == 0) return;
  input_transform4_kernel<<<grid_for(total, kWinograd4Block), kWinograd4Block, 0, stream>>>(x, c, h, w, tiles, v);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_winograd4_output_transform(const float* m, int64_t images, int64_t k, int64_t h, int64_t w,
                                       const float* bias, float* y, cudaStream_t stream) {
  const int64_t tiles = winograd4_tiles(images, h, w);
  const size_t total = static_cast<size_t>(k * tiles);
  if (total == 0) return;
  output_transform4_kernel<<<grid_for(total, kWinograd4Block), kWinograd4Block, 0, stream>>>(m, k, h, w, tiles,
                                                                                             bias, y);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
