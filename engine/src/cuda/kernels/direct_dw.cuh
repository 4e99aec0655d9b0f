// The direct filter gradient for convolutions with a short filter row (see direct_dw_tile.h).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "direct_dw_tile.h"

namespace keel::cuda {

// Floats of the partial buffer launch_direct_dw needs: one (K, CRS) partial per block along the
// positions.
int64_t direct_dw_partial_floats(const direct_dw::Problem& p, int multiprocessors);
// x: (N, C, H, W), dy: (N, K, H', W') -> dw: (K, C, R, S), dw = (accumulate ? dw : 0) + the
// gradient; needs direct_dw::supported(p).
void launch_direct_dw(const direct_dw::Problem& p, const float* x, const float* dy, float* partial,
                      bool accumulate, float* dw, int multiprocessors, cudaStream_t stream);

}  // namespace keel::cuda
