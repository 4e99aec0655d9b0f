// The packing half of the CPU convolution (cpu/conv.cpp computes): the geometry of a convolution
// and of its im2col windows, and the routines that lay its operands out in the packed GEMM's panel
// layout (im2col of inputs and output gradients, NHWC transposes, flipped weights) and write the
// results back (scatter of GEMM rows, col2im). Compiled once per CPU path, like conv.cpp.
#pragma once

#include <cstdint>

#include "cpu/gemm.h"
#include "cpu/simd.h"

namespace keel::cpu::KEEL_CPU_ISA::conv {

struct ConvShape {
  int64_t n, c, h, w;  // input x
  int64_t k, r, s;     // filters w
  int64_t oh, ow;      // output y
  int64_t stride, pad;
  int64_t crs() const { return c * r * s; }
  int64_t pixels() const { return oh * ow; }
};

// The geometry of one im2col. GEMM column (n, oh, ow) and depth index (c, r, s) read
// src[n, c, oh·stride − pad_h + r, ow·stride − pad_w + s], zero outside the image.
struct Window {
  int64_t n, c, h, w;  // source tensor (N, C, H, W)
  int64_t r, s;        // window size
  int64_t oh, ow;      // output grid
  int64_t stride, pad_h, pad_w;
  int64_t depth() const { return c * r * s; }
  int64_t pixels() const { return oh * ow; }
};

inline Window forward_window(const ConvShape& g) {
  return {g.n, g.c, g.h, g.w, g.r, g.s, g.oh, g.ow, g.stride, g.pad, g.pad};
}

// dx for stride 1 as a convolution of dy: dx[n, c, i, j] = Σ dy[n, k, i + pad − r, j + pad − s]
// w[k, c, r, s]; with r' = R−1−r that is a window over dy padded by R−1−pad (S−1−pad across).
inline Window input_grad_window(const ConvShape& g) {
  return {g.n, g.k, g.oh, g.ow, g.r, g.s, g.h, g.w, 1, g.r - 1 - g.pad, g.s - 1 - g.pad};
}

// Image, top row and left column of the receptive field of GEMM column `col`.
struct Pixel {
  int64_t n, top, left;
};
inline Pixel pixel_of(const Window& g, int64_t col) {
  const int64_t n = col / g.pixels(), p = col % g.pixels();
  return {n, (p / g.ow) * g.stride - g.pad_h, (p % g.ow) * g.stride - g.pad_w};
}

#if defined(__AVX512F__) || defined(__AVX2__)
// Address arithmetic that may step before `src` for lanes a mask switches off (never read).
inline const float* offset_ptr(const float* src, int64_t offset) {
  return reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(src) +
                                        static_cast<uintptr_t>(offset) * sizeof(float));
}
#endif
#if defined(__AVX2__) && !defined(__AVX512F__)
// Lanes [0, count) set: the live lanes of a partial vector.
inline __m256i first_lanes(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif

// B (depth × cols) for columns [col0, col0 + cols) of window `g` over `src`, in gemm's panel
// layout (zero past `cols`).
void im2col_packed(const float* src, const Window& g, int64_t col0, int64_t cols, float* packed);

// x (N, C, H, W) -> (N, H, W, C) for images [n0, n1).
void to_nhwc(const float* x, const ConvShape& g, int64_t n0, int64_t n1, float* out);

// im2col(x)ᵀ as a packed B operand for the weight gradient, read from x in NHWC: depth = columns
// [col0, col0 + cols), GEMM columns = (r, s, c) with c fastest, panels [first, last).
void im2col_nhwc_transposed_packed(const float* x_nhwc, const ConvShape& g, int64_t col0,
                                   int64_t cols, int64_t first, int64_t last, float* packed);

// A (C × K·R·S) for the stride-1 input gradient: A[c][(k, r', s')] = w[k, c, R−1−r', S−1−s'].
void pack_flipped_weights(const float* w, const ConvShape& g, int64_t first, int64_t last,
                          float* packed);

// dy (N, K, P) as a packed A operand (K × N·P, full depth): columns [col0, col0 + cols).
void pack_grad_as_a(const float* dy, const ConvShape& g, int64_t col0, int64_t cols, float* packed);

// dy (N, K, P) as a packed B operand (K × cols) for columns [col0, col0 + cols).
void pack_grad_as_b(const float* dy, const ConvShape& g, int64_t col0, int64_t cols, float* packed);

// out (rows × cols, leading dimension ld) -> dst (N, rows, P) at columns [col0, col0 + cols),
// plus bias[row] when given: a contiguous copy per (image, row).
void scatter_rows(const float* out, int64_t ld, int64_t rows, int64_t pixels, int64_t col0,
                  int64_t cols, const float* bias, float* dst);

// The adjoint of im2col: dx[n, c, ih, iw] += dcols[(c, r, s), col] (stride > 1 only). Walks each
// image's columns output row by output row with the valid column range worked out once per row:
// a division and four compares per element (as pixel_of did) cost more than the GEMM that made
// the element at ResNet's stride-2 shapes. Each dx element still receives its terms in (r, s)
// order, so the sums are those of a plain loop.
void col2im_add(const float* dcols, int64_t ld, const Window& g, int64_t col0, int64_t cols,
                float* dx);

}  // namespace keel::cpu::KEEL_CPU_ISA::conv
