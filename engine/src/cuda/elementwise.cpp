// Elementwise, channel-concatenation and normalisation ops on the CUDA device (dropout and
// gather_rows, as on the CPU, have files of their own).
#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/op_util.h"
#include "elementwise.cuh"

namespace keel::cuda {

void relu_forward(const Tensor& x, Tensor& y) {
  expect_cuda(x, "relu_forward", "x");
  y.ensure(x.shape(), Device::cuda);
  launch_relu_forward(x.data(), y.data(), count(x), stream());
}

void relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  dx.ensure(y.shape(), Device::cuda);
  launch_relu_backward(y.data(), dy.data(), dx.data(), count(y), stream());
}

void add(const Tensor& a, const Tensor& b, Tensor& y) {
  y.ensure(a.shape(), Device::cuda);
  launch_add(a.data(), b.data(), y.data(), count(a), stream());
}

void scale(const Tensor& x, float alpha, Tensor& y) {
  y.ensure(x.shape(), Device::cuda);
  launch_scale(x.data(), alpha, y.data(), count(x), stream());
}

// a: (N, Ca, ...), b: (N, Cb, ...) -> y: (N, Ca + Cb, ...): two pitched copies, no kernel.
void concat_channels(const Tensor& a, const Tensor& b, Tensor& y) {
  std::vector<int64_t> dims = a.shape().dims();
  dims[1] = a.dim(1) + b.dim(1);
  y.ensure(Shape(dims), Device::cuda);
  const int64_t n = a.dim(0);
  if (n == 0) return;
  const size_t row_a = count(a) / static_cast<size_t>(n), row_b = count(b) / static_cast<size_t>(n);
  const size_t pitch = (row_a + row_b) * sizeof(float);
  if (row_a)
    KEEL_CUDA_CHECK(cudaMemcpy2DAsync(y.data(), pitch, a.data(), row_a * sizeof(float), row_a * sizeof(float),
                                      static_cast<size_t>(n), cudaMemcpyDeviceToDevice, stream()));
  if (row_b)
    KEEL_CUDA_CHECK(cudaMemcpy2DAsync(y.data() + row_a, pitch, b.data(), row_b * sizeof(float),
                                      row_b * sizeof(float), static_cast<size_t>(n), cudaMemcpyDeviceToDevice,
                                      stream()));
}

// dy: (N, Ca + Cb, ...) -> da: (N, Ca, ...), db: (N, Cb, ...)
void split_channels(const Tensor& dy, int64_t ca, Tensor& da, Tensor& db) {
  std::vector<int64_t> dims_a = dy.shape().dims(), dims_b = dy.shape().dims();
  dims_a[1] = ca;
  dims_b[1] = dy.dim(1) - ca;
  da.ensure(Shape(dims_a), Device::cuda);
  db.ensure(Shape(dims_b), Device::cuda);
  const int64_t n = dy.dim(0);
  if (n == 0) return;
  const size_t row_a = count(da) / static_cast<size_t>(n), row_b = count(db) / static_cast<size_t>(n);
  const size_t pitch = (row_a + row_b) * sizeof(float);
  if (row_a)
    KEEL_CUDA_CHECK(cudaMemcpy2DAsync(da.data(), row_a * sizeof(float), dy.data(), pitch, row_a * sizeof(float),
                                      static_cast<size_t>(n), cudaMemcpyDeviceToDevice, stream()));
  if (row_b)
    KEEL_CUDA_CHECK(cudaMemcpy2DAsync(db.data(), row_b * sizeof(float), dy.data() + row_a, pitch,
                                      row_b * sizeof(float), static_cast<size_t>(n), cudaMemcpyDeviceToDevice,
                                      stream()));
}

// x: (N, C, H, W) -> y = (x - mean[c]) / std[c]
void normalize_channels(const Tensor& x, const Tensor& mean, const Tensor& std, Tensor& y) {
  const int64_t n = x.dim(0), c = x.dim(1);
  y.ensure(x.shape(), Device::cuda);
  const int64_t plane = (n * c) == 0 ? 0 : x.numel() / (n * c);
  launch_normalize_channels(x.data(), mean.data(), std.data(), y.data(), n, c, plane, stream());
}

}  // namespace keel::cuda
