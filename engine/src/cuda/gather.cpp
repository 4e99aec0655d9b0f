// Gathering dataset rows into a batch on the CUDA device (the twin of cpu/gather.cpp; the kernel
// is in kernels/gather.cu).
#include <vector>

#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/op_util.h"
#include "gather.cuh"

namespace keel::cuda {

// src: (N, ...), indices: (B) -> dst: (B, ...)
void gather_rows(const Tensor& src, const Tensor& indices, Tensor& dst) {
  std::vector<int64_t> dims = src.shape().dims();
  const int64_t rows = dims[0], batch = indices.dim(0);
  const int64_t row = rows == 0 ? 0 : src.numel() / rows;
  dims[0] = batch;
  dst.ensure(Shape(dims), Device::cuda);
  launch_gather_rows(src.data(), rows, row, indices.data(), batch, dst.data(), stream());
}

}  // namespace keel::cuda
