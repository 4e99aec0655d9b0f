// Elementwise kernels: fill, ReLU, add, scale, multiply, per-channel normalisation and the
// broadcast/column-sum helpers of the linear layer. Launchers queue on the given stream.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

namespace keel::cuda {

inline constexpr int kElementwiseBlock = 256;

void launch_fill(float* y, size_t n, float value, cudaStream_t stream);
void launch_relu_forward(const float* x, float* y, size_t n, cudaStream_t stream);
void launch_relu_backward(const float* y, const float* dy, float* dx, size_t n, cudaStream_t stream);
void launch_add(const float* a, const float* b, float* y, size_t n, cudaStream_t stream);
void launch_scale(const float* x, float alpha, float* y, size_t n, cudaStream_t stream);
void launch_multiply(const float* a, const float* b, float* y, size_t n, cudaStream_t stream);
// x, y: (N, C, plane) -> y = (x - mean[c]) / std[c]
void launch_normalize_channels(const float* x, const float* mean, const float* std, float* y,
                               int64_t n, int64_t c, int64_t plane, cudaStream_t stream);
// y: (rows, cols) += bias[col]
void launch_add_row_bias(float* y, const float* bias, int64_t rows, int64_t cols, cudaStream_t stream);
// out[col] = Σ_row x[row, col], rows summed in order (deterministic, no atomics).
void launch_column_sums(const float* x, int64_t rows, int64_t cols, float* out, cudaStream_t stream);

}  // namespace keel::cuda
