// The row gather kernel (a batch of rows picked by index). The launcher queues on the given stream.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

namespace keel::cuda {

// src: (rows, row) -> dst: (batch, row), dst[i] = src[indices[i]]; an index that is not an integer
// in [0, rows) fills its row with NaN (the device cannot throw).
void launch_gather_rows(const float* src, int64_t rows, int64_t row, const float* indices,
                        int64_t batch, float* dst, cudaStream_t stream);

}  // namespace keel::cuda
