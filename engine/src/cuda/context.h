// The process-wide CUDA context of keel: one device, one stream for every kernel, copy and library
// call (so the caching allocator can hand a freed block to the next op without an event), and one
// cuBLAS handle bound to that stream.
#pragma once

#include <cstddef>

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace keel::cuda {

cudaStream_t stream();
// The cuBLAS handle, with TF32 tensor-core math switched on only when keel::allow_tf32().
cublasHandle_t cublas();
// Number of multiprocessors of the device: sizes grids of the two-stage reductions.
int multiprocessor_count();

// Row-major GEMM on the stream: C (m×n) = alpha · op(A) · op(B) + beta · C, where A is stored
// (m×k) or, transposed, (k×m), and B (k×n) or (n×k).
void gemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c);
// `batch` independent row-major GEMMs in one cuBLAS call: C_i = alpha · op(A_i) · op(B_i) + beta · C_i,
// with A_i = a + i·stride_a, B_i = b + i·stride_b, C_i = c + i·stride_c (strides in floats).
void gemm_strided_batched(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a,
                          long long stride_a, const float* b, long long stride_b, float beta, float* c,
                          long long stride_c, int batch);

// Grid for a grid-stride loop over `count` elements with `block` threads per block.
unsigned grid_for(size_t count, int block);

}  // namespace keel::cuda
