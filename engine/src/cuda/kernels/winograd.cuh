// Winograd F(2x2, 3x3) kernels for 3x3, stride-1, padding-1 convolutions: the transforms around the
// 16 batched GEMMs (see winograd_transforms.h for the math and the buffer layouts).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace keel::cuda {

inline constexpr int kWinogradBlock = 256;

// w -> u: (16, Kout, Cin). flip = false: w (Kout, Cin, 3, 3), the forward filter. flip = true:
// w (Cin, Kout, 3, 3), turned 180° with its channel axes swapped (the filter of backward data).
void launch_winograd_filter_transform(const float* w, int64_t kout, int64_t cin, bool flip, float* u,
                                      cudaStream_t stream);
// x: (images, C, H, W) -> v: (16, S, C, Ts), T = images·ceil(H/2)·ceil(W/2) tiles in S slices of
// Ts = ceil(T / S) (S = 1: (16, C, T)).
void launch_winograd_input_transform(const float* x, int64_t images, int64_t c, int64_t h, int64_t w,
                                     int64_t slices, float* v, cudaStream_t stream);
// m: (16, K, T) -> y: (images, K, H, W), plus bias[k] when bias is not null.
void launch_winograd_output_transform(const float* m, int64_t images, int64_t k, int64_t h, int64_t w,
                                      const float* bias, float* y, cudaStream_t stream);
// dy: (images, K, H, W) -> dyt: (16, S, K, Ts), sliced as the input transform.
void launch_winograd_output_grad_transform(const float* dy, int64_t images, int64_t k, int64_t h, int64_t w,
                                           int64_t slices, float* dyt, cudaStream_t stream);
// du: (16, S, K, C), partial sums over S slices -> dw: (K, C, 3, 3).
void launch_winograd_filter_grad_transform(const float* du, int64_t k, int64_t c, int64_t slices, float* dw,
                                           cudaStream_t stream);
// Tiles of one chunk: images·ceil(H/2)·ceil(W/2).
int64_t winograd_tiles(int64_t images, int64_t h, int64_t w);
// Floats of a (16, S, rows, Ts) buffer for T tiles (padding of the last slice included).
int64_t winograd_buffer_floats(int64_t rows, int64_t tiles, int64_t slices);

}  // namespace keel::cuda
