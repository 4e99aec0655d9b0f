// Elementwise kernels (see elementwise.cuh): grid-stride loops, one element per thread step.
#include "elementwise.cuh"
#include "grid_stride.cuh"

#include "cuda/check.h"
#include "cuda/context.h"

namespace keel::cuda {

namespace {

__global__ void fill_kernel(float* y, size_t n, float value) {
  KEEL_GRID_STRIDE(i, n) y[i] = value;
}

__global__ void relu_forward_kernel(const float* x, float* y, size_t n) {
  KEEL_GRID_STRIDE(i, n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void relu_backward_kernel(const float* y, const float* dy, float* dx, size_t n) {
  KEEL_GRID_STRIDE(i, n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

__global__ void add_kernel(const float* a, const float* b, float* y, size_t n) {
  KEEL_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}

__global__ void scale_kernel(const float* x, float alpha, float* y, size_t n) {
  KEEL_GRID_STRIDE(i, n) y[i] = alpha * x[i];
}

__global__ void multiply_kernel(const float* a, const float* b, float* y, size_t n) {
  KEEL_GRID_STRIDE(i, n) y[i] = a[i] * b[i];
}

__global__ void normalize_channels_kernel(const float* x, const float* mean, const float* std, float* y,
                                          size_t total, int64_t c, int64_t plane) {
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ch = static_cast<int64_t>(i / plane) % c;
    y[i] = (x[i] - mean[ch]) / std[ch];
  }
}

__global__ void add_row_bias_kernel(float* y, const float* bias, size_t total, int64_t cols) {
  KEEL_GRID_STRIDE(i, total) y[i] += bias[i % cols];
}

// One thread per column walks the rows in order: neighbouring threads read neighbouring columns.
__global__ void column_sums_kernel(const float* x, int64_t rows, int64_t cols, float* out) {
  const int64_t col = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (col >= cols) return;
  float total = 0.0f;
  for (int64_t r = 0; r < rows; ++r) total += x[r * cols + col];
  out[col] = total;
}

}  // namespace

void launch_fill(float* y, size_t n, float value, cudaStream_t stream) {
  if (n == 0) return;
  fill_kernel<<<grid_for(n, kElementwiseBlock), kElementwiseBlock, 0, stream>>>(y, n, value);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_relu_forward(const float* x, float* y, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  relu_forward_kernel<<<grid_for(n, kElementwiseBlock), kElementwiseBlock, 0, stream>>>(x, y, n);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_relu_backward(const float* y, const float* dy, float* dx, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  relu_backward_kernel<<<grid_for(n, kElementwiseBlock), kElementwiseBlock, 0, stream>>>(y, dy, dx, n);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_add(const float* a, const float* b, float* y, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  add_kernel<<<grid_for(n, kElementwiseBlock), kElementwiseBlock, 0, stream>>>(a, b, y, n);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_scale(const float* x, float alpha, float* y, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  scale_kernel<<<grid_for(n, kElementwiseBlock), kElementwiseBlock, 0, stream>>>(x, alpha, y, n);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_multiply(const float* a, const float* b, float* y, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  multiply_kernel<<<grid_for(n, kElementwiseBlock), kElementwiseBlock, 0, stream>>>(a, b, y, n);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_normalize_channels(const float* x, const float* mean, const float* std, float* y,
                               int64_t n, int64_t c, int64_t plane, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(n * c * plane);
  if (total == 0) return;
  normalize_channels_kernel<<<grid_for(total, kElementwiseBlock), kElementwiseBlock, 0, stream>>>(
      x, mean, std, y, total, c, plane);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_add_row_bias(float* y, const float* bias, int64_t rows, int64_t cols, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(rows * cols);
  if (total == 0) return;
  add_row_bias_kernel<<<grid_for(total, kElementwiseBlock), kElementwiseBlock, 0, stream>>>(y, bias, total,
                                                                                            cols);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_column_sums(const float* x, int64_t rows, int64_t cols, float* out, cudaStream_t stream) {
  if (cols == 0) return;
  const unsigned grid = static_cast<unsigned>((cols + kElementwiseBlock - 1) / kElementwiseBlock);
  column_sums_kernel<<<grid, kElementwiseBlock, 0, stream>>>(x, rows, cols, out);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
