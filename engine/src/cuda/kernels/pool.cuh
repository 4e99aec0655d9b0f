// Pooling kernels over x: (N, C, H, W) -> y: (N, C, H', W'); planes = N·C. Backward kernels are
// gathers (one thread per input element, windows revisited in order): no atomics, deterministic.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace keel::cuda {

inline constexpr int kPoolBlock = 256;

struct PoolGeometry {
  int64_t planes;
  int64_t h, w;
  int64_t out_h, out_w;
  int kernel, stride, padding;
};

void launch_max_pool_forward(const float* x, const PoolGeometry& g, float* y, cudaStream_t stream);
// Gradient to the first maximum (row-major scan, padding excluded) of each window.
void launch_max_pool_backward(const float* x, const float* dy, const PoolGeometry& g, float* dx,
                              cudaStream_t stream);
// Divisor kernel·kernel (padding counts as zeros).
void launch_avg_pool_forward(const float* x, const PoolGeometry& g, float* y, cudaStream_t stream);
void launch_avg_pool_backward(const float* dy, const PoolGeometry& g, float* dx, cudaStream_t stream);
// Adaptive pools: output cell i covers [floor(i·H/H'), ceil((i+1)·H/H')). kernel/stride unused.
void launch_adaptive_avg_forward(const float* x, const PoolGeometry& g, float* y, cudaStream_t stream);
void launch_adaptive_avg_backward(const float* dy, const PoolGeometry& g, float* dx, cudaStream_t stream);
void launch_adaptive_max_forward(const float* x, const PoolGeometry& g, float* y, cudaStream_t stream);
void launch_adaptive_max_backward(const float* x, const float* dy, const PoolGeometry& g, float* dx,
                                  cudaStream_t stream);

}  // namespace keel::cuda
