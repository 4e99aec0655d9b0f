// Convolution helpers for the im2col + GEMM path. The column matrix of a chunk of `images` images
// is (C·R·S, images·H'·W'): one GEMM then covers the whole chunk, which keeps small late-layer
// planes (7×7) efficient where a GEMM per image would be starved.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace keel::cuda {

inline constexpr int kConvBlock = 256;

struct ConvGeometry {
  int64_t c, h, w;        // input channels and plane
  int64_t r, s;           // kernel
  int64_t out_h, out_w;   // output plane
  int stride, padding;
};

// x: (images, C, H, W) -> col: (C·R·S, images·H'·W'), zeros where the window reads padding.
void launch_im2col(const float* x, int64_t images, const ConvGeometry& g, float* col, cudaStream_t stream);
// col: (C·R·S, images·H'·W') -> dx: (images, C, H, W), each input summing the columns that read it
// (a gather, so no atomics and a fixed order).
void launch_col2im(const float* col, int64_t images, const ConvGeometry& g, float* dx, cudaStream_t stream);
// parts: (count, size) -> out: (size), out = (accumulate ? out : 0) + Σ_p parts[p], summed in order
// p = 0, 1, ... so that the result does not depend on scheduling.
void launch_sum_parts(const float* parts, int64_t count, int64_t size, bool accumulate, float* out,
                      cudaStream_t stream);
// src: (A, B, P) -> dst: (B, A, P), plus bias[a] when bias is not null.
void launch_swap_outer(const float* src, int64_t a, int64_t b, int64_t p, const float* bias, float* dst,
                       cudaStream_t stream);

}  // namespace keel::cuda
