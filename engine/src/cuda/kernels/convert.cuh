// Rounding float32 values to half or bfloat16 on the device (the hardware's conversions, round to
// nearest even). Launchers queue on the given stream.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

namespace keel::cuda {

inline constexpr int kConvertBlock = 256;

// y[i] = x[i] rounded to half (as __float2half_rn, then back to float exactly); y may be x.
void launch_round_to_half(const float* x, float* y, size_t n, cudaStream_t stream);
// y[i] = x[i] rounded to bfloat16 (as __float2bfloat16_rn); y may be x.
void launch_round_to_bfloat16(const float* x, float* y, size_t n, cudaStream_t stream);

}  // namespace keel::cuda
