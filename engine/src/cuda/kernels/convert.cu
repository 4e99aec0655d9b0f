// The rounding kernels (see convert.cuh): grid-stride loops over the elements.
#include "convert.cuh"
#include "grid_stride.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/check.h"
#include "cuda/context.h"

namespace keel::cuda {

namespace {

__global__ void round_to_half_kernel(const float* x, float* y, size_t n) {
  KEEL_GRID_STRIDE(i, n) y[i] = __half2float(__float2half_rn(x[i]));
}

__global__ void round_to_bfloat16_kernel(const float* x, float* y, size_t n) {
  KEEL_GRID_STRIDE(i, n) y[i] = __bfloat162float(__float2bfloat16_rn(x[i]));
}

}  // namespace

void launch_round_to_half(const float* x, float* y, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  round_to_half_kernel<<<grid_for(n, kConvertBlock), kConvertBlock, 0, stream>>>(x, y, n);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_round_to_bfloat16(const float* x, float* y, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  round_to_bfloat16_kernel<<<grid_for(n, kConvertBlock), kConvertBlock, 0, stream>>>(x, y, n);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
