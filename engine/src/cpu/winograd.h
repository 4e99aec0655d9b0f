// Winograd F(2x2, 3x3) convolution on the CPU for 3x3 filters, stride 1 and padding 1 (the forward
// pass and the stride-1 input gradient of the CNNs' "same" convolutions): each 2x2 output tile
// from a 4x4 input tile with 16 multiplications per channel pair instead of 36, as 16 GEMMs
// (one per transformed point) between the transformed filters and the transformed input tiles,
// run by keel's packed GEMM. The transforms are those of Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", and of the CUDA kernels (cuda/kernels/winograd_transforms.h),
// written here across a GEMM panel of tiles so the compiler vectorises them at the variant's width.
//
// Tiles t = (image, ty, tx) in row-major order are the GEMM's columns; tile (ty, tx) reads input
// rows 2ty−1 .. 2ty+2, columns 2tx−1 .. 2tx+2 (zero outside) and writes output rows 2ty, 2ty+1,
// columns 2tx, 2tx+1 (those past the plane are dropped). Each output is a sum over input
// channels in the GEMM's fixed depth order, so results do not depend on how tiles are shared out.
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>

#include "cpu/cpu_ops.h"

namespace keel::cpu::KEEL_CPU_ISA::winograd {

// dst (n, out, h, w) = the 3x3, stride-1, padding-1 convolution of src (n, in, h, w).
struct Geometry {
  int64_t n, in, out, h, w;
  int64_t tiles_h() const { return (h + 1) / 2; }
  int64_t tiles_w() const { return (w + 1) / 2; }
  int64_t tiles() const { return n * tiles_h() * tiles_w(); }
  // The input gather keeps its offsets in 32 bits (half the index memory of a panel).
  bool indexable() const { return n * in * h * w <= INT32_MAX; }
};

// Whether automatic selection takes Winograd for this geometry (see keel::CpuConvAlgo).
bool preferred(const Geometry& g);

// Floats of the transformed filters (16 packed GEMM A operands, out × in each).
size_t filter_floats(const Geometry& g);
// How the 3x3 filter of (output o, input i) is read from the layer's weights: the forward pass
// reads w[o, i] of w (out, in, 3, 3); the input gradient, a convolution of dy by the weights
// turned 180° with their channel axes swapped, reads w[i, o] of w (in, out, 3, 3) back to front.
enum class Filters { forward, input_grad };
// Transforms the filters of output-channel panels [first, last) (kMr channels each) into u.
void transform_filters(const float* w, const Geometry& g, Filters kind, int64_t first, int64_t last,
                       float* u);

// Tiles per chunk, and the floats of one thread's transformed-input and product buffers for it.
int64_t chunk_tiles(const Geometry& g);
size_t input_floats(const Geometry& g);
size_t product_floats(const Geometry& g);

// dst (+ bias[o] when bias is not null) for tiles [first, last), whole GEMM panels of tiles but
// for the last, with this thread's buffers v (input_floats) and m (product_floats).
void convolve(const float* src, const float* u, const float* bias, const Geometry& g, int64_t first,
              int64_t last, float* v, float* m, float* dst);

}  // namespace keel::cpu::KEEL_CPU_ISA::winograd
