// im2col / col2im and the layout swap of the convolution path (see conv.cuh).
#include "conv.cuh"
#include "grid_stride.cuh"

#include <algorithm>

#include "cuda/check.h"
#include "cuda/context.h"

namespace keel::cuda {

namespace {

// One thread per (image, c, out_y, out_x); it writes the R·S column rows of its output pixel.
// Neighbouring threads own neighbouring output pixels, so every row write is coalesced.
__global__ void im2col_kernel(const float* __restrict__ x, int64_t images, ConvGeometry g,
                              float* __restrict__ col) {
  const int64_t plane = g.out_h * g.out_w;
  const int64_t columns = images * plane;
  const size_t total = static_cast<size_t>(g.c * columns);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t column = static_cast<int64_t>(i % columns);
    const int64_t ch = static_cast<int64_t>(i / columns);
    const int64_t image = column / plane;
    const int64_t pixel = column - image * plane;
    const int64_t oy = pixel / g.out_w, ox = pixel - (pixel / g.out_w) * g.out_w;
    const float* src = x + (image * g.c + ch) * g.h * g.w;
    float* dst = col + ch * g.r * g.s * columns + column;
    const int64_t y0 = oy * g.stride - g.padding, x0 = ox * g.stride - g.padding;
    for (int64_t r = 0; r < g.r; ++r) {
      const int64_t yy = y0 + r;
      const bool row_ok = yy >= 0 && yy < g.h;
      for (int64_t s = 0; s < g.s; ++s) {
        const int64_t xx = x0 + s;
        *dst = (row_ok && xx >= 0 && xx < g.w) ? src[yy * g.w + xx] : 0.0f;
        dst += columns;
      }
    }
  }
}

// One thread per input element; sums every (r, s) tap whose window covers it. Only the taps with
// r ≡ y + padding (mod stride) land on an output row, so the loops start at the first such tap and
// step by the stride while the output row falls by one: no division inside the loops, since 64-bit
// division is a software routine on the GPU. The taps are visited in the order r, then s,
// ascending, so the sums keep one order.
__global__ void col2im_kernel(const float* __restrict__ col, int64_t images, ConvGeometry g,
                              float* __restrict__ dx) {
  const int64_t plane = g.out_h * g.out_w;
  const int64_t columns = images * plane;
  const size_t total = static_cast<size_t>(images * g.c * g.h * g.w);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t xx = static_cast<int64_t>(i % g.w);
    const int64_t yy = static_cast<int64_t>((i / g.w) % g.h);
    const int64_t ch = static_cast<int64_t>((i / (g.w * g.h)) % g.c);
    const int64_t image = static_cast<int64_t>(i / (g.w * g.h * g.c));
    const int64_t ty = yy + g.padding, tx = xx + g.padding;  // >= 0
    const int64_t r0 = ty % g.stride, s0 = tx % g.stride;
    const int64_t oy0 = ty / g.stride, ox0 = tx / g.stride;   // output row/column of taps r0, s0
    const float* base = col + image * plane;
    float total_grad = 0.0f;
    int64_t oy = oy0;
    for (int64_t r = r0; r < g.r && oy >= 0; r += g.stride, --oy) {
      if (oy >= g.out_h) continue;
      int64_t ox = ox0;
      for (int64_t s = s0; s < g.s && ox >= 0; s += g.stride, --ox) {
        if (ox >= g.out_w) continue;
        const int64_t row = (ch * g.r + r) * g.s + s;
        total_grad += base[row * columns + oy * g.out_w + ox];
      }
    }
    dx[i] = total_grad;
  }
}

// out[j] = (accumulate ? out[j] : 0) + parts[0][j] + parts[1][j] + ..., in that order.
__global__ void sum_parts_kernel(const float* __restrict__ parts, int64_t count, int64_t size, bool accumulate,
                                 float* __restrict__ out) {
  KEEL_GRID_STRIDE(i, static_cast<size_t>(size)) {
    float sum = accumulate ? out[i] : 0.0f;
    for (int64_t p = 0; p < count; ++p) sum += parts[p * size + static_cast<int64_t>(i)];
    out[i] = sum;
  }
}

__global__ void swap_outer_kernel(const float* __restrict__ src, int64_t a, int64_t b, int64_t p,
                                  const float* __restrict__ bias, float* __restrict__ dst) {
  const size_t total = static_cast<size_t>(a * b * p);
  KEEL_GRID_STRIDE(i, total) {
    // i indexes dst (B, A, P)
    const int64_t pi = static_cast<int64_t>(i % p);
    const int64_t ai = static_cast<int64_t>((i / p) % a);
    const int64_t bi = static_cast<int64_t>(i / (p * a));
    const float v = src[(ai * b + bi) * p + pi];
    dst[i] = bias ? v + bias[ai] : v;
  }
}

// The same swap for long rows (P >= kConvBlock): blockIdx.y strides over the (b, a) rows of dst, whose
// P floats are contiguous in src and dst, and blockIdx.x along them, so the index math runs once per
// row instead of three 64-bit divisions per element (a software routine on the GPU, which made the
// flat kernel compute bound at ResNet's stem: 51M elements per swap).
__global__ void swap_outer_rows_kernel(const float* __restrict__ src, int64_t a, int64_t b, int64_t p,
                                       const float* __restrict__ bias, float* __restrict__ dst) {
  const int64_t rows = a * b;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    // row indexes dst (B, A): bi * A + ai
    const int64_t bi = row / a, ai = row - (row / a) * a;
    const float* s = src + (ai * b + bi) * p;
    float* d = dst + row * p;
    for (int64_t pi = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; pi < p; pi += int64_t{gridDim.x} * blockDim.x)
      d[pi] = bias ? s[pi] + bias[ai] : s[pi];
  }
}

}  // namespace

void launch_im2col(const float* x, int64_t images, const ConvGeometry& g, float* col, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(g.c * images * g.out_h * g.out_w);
  if (total == 0) return;
  im2col_kernel<<<grid_for(total, kConvBlock), kConvBlock, 0, stream>>>(x, images, g, col);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_col2im(const float* col, int64_t images, const ConvGeometry& g, float* dx, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(images * g.c * g.h * g.w);
  if (total == 0) return;
  col2im_kernel<<<grid_for(total, kConvBlock), kConvBlock, 0, stream>>>(col, images, g, dx);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_sum_parts(const float* parts, int64_t count, int64_t size, bool accumulate, float* out,
                      cudaStream_t stream) {
  if (size == 0) return;
  sum_parts_kernel<<<grid_for(static_cast<size_t>(size), kConvBlock), kConvBlock, 0, stream>>>(parts, count, size,
                                                                                              accumulate, out);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_swap_outer(const float* src, int64_t a, int64_t b, int64_t p, const float* bias, float* dst,
                       cudaStream_t stream) {
  const size_t total = static_cast<size_t>(a * b * p);
  if (total == 0) return;
  if (p >= kConvBlock) {
    const int64_t rows = a * b;
    // Up to 4 floats per thread along a row; as many rows at once as grid_for allows blocks in all.
    const int64_t along = std::min<int64_t>((p + 4 * kConvBlock - 1) / (4 * kConvBlock), 65535);
    const int64_t across = std::clamp<int64_t>(static_cast<int64_t>(grid_for(total, kConvBlock)) / along, 1,
                                               std::min<int64_t>(rows, 65535));
    const dim3 grid(static_cast<unsigned>(along), static_cast<unsigned>(across));
    swap_outer_rows_kernel<<<grid, kConvBlock, 0, stream>>>(src, a, b, p, bias, dst);
    KEEL_CUDA_CHECK_LAUNCH();
    return;
  }
  swap_outer_kernel<<<grid_for(total, kConvBlock), kConvBlock, 0, stream>>>(src, a, b, p, bias, dst);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
