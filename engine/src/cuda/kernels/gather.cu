// The row gather kernel (see gather.cuh): a grid-stride loop over the gathered elements.
#include "elementwise.cuh"
#include "gather.cuh"
#include "grid_stride.cuh"

#include "cuda/check.h"
#include "cuda/context.h"

namespace keel::cuda {

namespace {

__global__ void gather_rows_kernel(const float* __restrict__ src, int64_t rows, int64_t row,
                                   const float* __restrict__ indices, int64_t batch,
                                   float* __restrict__ dst) {
  const size_t total = static_cast<size_t>(batch * row);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t b = static_cast<int64_t>(i / row), j = static_cast<int64_t>(i % row);
    const float index = indices[b];
    const int64_t r = static_cast<int64_t>(index);
    dst[i] = (r >= 0 && r < rows && static_cast<float>(r) == index) ? src[r * row + j] : NAN;
  }
}

}  // namespace

void launch_gather_rows(const float* src, int64_t rows, int64_t row, const float* indices,
                        int64_t batch, float* dst, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(batch * row);
  if (total == 0) return;
  gather_rows_kernel<<<grid_for(total, kElementwiseBlock), kElementwiseBlock, 0, stream>>>(
      src, rows, row, indices, batch, dst);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
