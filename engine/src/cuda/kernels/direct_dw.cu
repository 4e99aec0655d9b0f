// The direct filter-gradient kernel (see direct_dw_tile.h for the method and the phase bodies).
#include "direct_dw.cuh"

#include "conv.cuh"
#include "cuda/check.h"

namespace keel::cuda {

namespace {

using namespace direct_dw;

// At most 128 registers, so that four blocks share a multiprocessor (the split assumes four).
__global__ void __launch_bounds__(kThreads, 4) direct_dw_kernel(Problem p, const float* __restrict__ x,
                                                             const float* __restrict__ dy, int64_t chunk,
                                                             float* __restrict__ partial) {
  __shared__ Smem sm;
  const int t = static_cast<int>(threadIdx.x);
  const int64_t k0 = static_cast<int64_t>(blockIdx.y) * kTileK;
  const int64_t l_begin = static_cast<int64_t>(blockIdx.x) * chunk;
  const int64_t l_end = l_begin + chunk < p.positions() ? l_begin + chunk : p.positions();
  fill_entry_table(p, t, sm);
  float acc[kPerThreadK][kPerThreadJ];
  for (int m = 0; m < kPerThreadK; ++m)
    for (int i = 0; i < kPerThreadJ; ++i) acc[m][i] = 0.0f;
  for (int64_t l0 = l_begin; l0 < l_end; l0 += kTileL) {
    locate_positions(p, l0, l_end, t, sm);
    __syncthreads();  // positions (and, the first time, the entry table) before the loads
    load_dy(p, dy, k0, t, sm);
    load_patches(p, x, t, sm);
    __syncthreads();  // the tile before the products
    accumulate(sm, t, acc);
    __syncthreads();  // the products before the next tile overwrites it
  }
  store_partial(p, acc, t, k0, partial + static_cast<int64_t>(blockIdx.x) * p.k * p.crs());
}

}  // namespace

int64_t direct_dw_partial_floats(const Problem& p, int multiprocessors) {
  const int64_t k_tiles = (p.k + kTileK - 1) / kTileK;
  return split_positions(p.positions(), k_tiles, multiprocessors).blocks * p.k * p.crs();
}

void launch_direct_dw(const Problem& p, const float* x, const float* dy, float* partial, bool accumulate,
                      float* dw, int multiprocessors, cudaStream_t stream) {
  if (p.k == 0) return;
  if (p.positions() == 0) {
    if (!accumulate) KEEL_CUDA_CHECK(cudaMemsetAsync(dw, 0, static_cast<size_t>(p.k * p.crs()) * sizeof(float), stream));
    return;
  }
  const int64_t k_tiles = (p.k + kTileK - 1) / kTileK;
  const Split split = split_positions(p.positions(), k_tiles, multiprocessors);
  const dim3 grid(static_cast<unsigned>(split.blocks), static_cast<unsigned>(k_tiles));
  direct_dw_kernel<<<grid, kThreads, 0, stream>>>(p, x, dy, split.chunk, partial);
  KEEL_CUDA_CHECK_LAUNCH();
  launch_sum_parts(partial, split.blocks, p.k * p.crs(), accumulate, dw, stream);
}

}  // namespace keel::cuda
