// Winograd F(4x4, 3x3) kernels for 3x3, stride-1, padding-1 convolutions on large planes: the
// transforms around the 36 batched GEMMs (see winograd4_transforms.h for the math and the layouts).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace keel::cuda {

inline constexpr int kWinograd4Block = 256;

// w -> u: (36, Kout, Cin). flip = false: w (Kout, Cin, 3, 3), the forward filter. flip = true:
// w (Cin, Kout, 3, 3), turned 180° with its channel axes swapped (the filter of backward data).
void launch_winograd4_filter_transform(const float* w, int64_t kout, int64_t cin, bool flip, float* u,
                                       cudaStream_t stream);
// x: (images, C, H, W) -> v: (36, C, T), T = images·ceil(H/4)·ceil(W/4) tiles.
void launch_winograd4_input_transform(const float* x, int64_t images, int64_t c, int64_t h, int64_t w, float* v,
                                      cudaStream_t stream);
// m: (36, K, T) -> y: (images, K, H, W), plus bias[k] when bias is not null.
void launch_winograd4_output_transform(const float* m, int64_t images, int64_t k, int64_t h, int64_t w,
                                       const float* bias, float* y, cudaStream_t stream);
// Tiles of one chunk: images·ceil(H/4)·ceil(W/4).
int64_t winograd4_tiles(int64_t images, int64_t h, int64_t w);

}  // namespace keel::cuda
