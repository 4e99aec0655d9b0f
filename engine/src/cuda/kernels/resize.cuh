// Bilinear resize with aligned corners over planes of (N, C, H, W): source = dst·(in-1)/(out-1).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace keel::cuda {

inline constexpr int kResizeBlock = 256;

// x: (planes, in_h, in_w) -> y: (planes, out_h, out_w)
void launch_resize_bilinear_forward(const float* x, int64_t planes, int64_t in_h, int64_t in_w, float* y,
                                    int64_t out_h, int64_t out_w, cudaStream_t stream);
// dy: (planes, out_h, out_w) -> dx: (planes, in_h, in_w); a gather over the outputs that read each
// input pixel (no atomics).
void launch_resize_bilinear_backward(const float* dy, int64_t planes, int64_t out_h, int64_t out_w,
                                     float* dx, int64_t in_h, int64_t in_w, cudaStream_t stream);

}  // namespace keel::cuda
