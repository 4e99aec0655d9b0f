// Bilinear resize kernels (see resize.cuh).
#include "grid_stride.cuh"
#include "resize.cuh"

#include <cmath>

#include "cuda/check.h"
#include "cuda/context.h"

namespace keel::cuda {

namespace {

struct Tap {
  int64_t i0, i1;
  float f;  // weight of i1; i0 gets 1 - f
};

__device__ Tap source_tap(int64_t dst, int64_t in, float scale) {
  const float src = static_cast<float>(dst) * scale;
  int64_t i0 = static_cast<int64_t>(floorf(src));
  if (i0 > in - 1) i0 = in - 1;
  const int64_t i1 = i0 + 1 < in ? i0 + 1 : in - 1;
  return Tap{i0, i1, src - static_cast<float>(i0)};
}

__device__ float tap_weight(const Tap& t, int64_t v) {
  return (t.i0 == v ? 1.0f - t.f : 0.0f) + (t.i1 == v ? t.f : 0.0f);
}

float axis_scale(int64_t in, int64_t out) {
  return out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f;
}

__global__ void resize_forward_kernel(const float* __restrict__ x, int64_t planes, int64_t in_h, int64_t in_w,
                                      float* __restrict__ y, int64_t out_h, int64_t out_w, float sy, float sx) {
  const size_t total = static_cast<size_t>(planes * out_h * out_w);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ox = static_cast<int64_t>(i % out_w);
    const int64_t oy = static_cast<int64_t>((i / out_w) % out_h);
    const int64_t plane = static_cast<int64_t>(i / (out_w * out_h));
    const float* p = x + plane * in_h * in_w;
    const Tap ty = source_tap(oy, in_h, sy), tx = source_tap(ox, in_w, sx);
    const float top = (1.0f - tx.f) * p[ty.i0 * in_w + tx.i0] + tx.f * p[ty.i0 * in_w + tx.i1];
    const float bottom = (1.0f - tx.f) * p[ty.i1 * in_w + tx.i0] + tx.f * p[ty.i1 * in_w + tx.i1];
    y[i] = (1.0f - ty.f) * top + ty.f * bottom;
  }
}

// Outputs along one axis whose taps can touch input v: src = o·scale within (v - 1, v + 1).
__device__ void output_range(int64_t v, int64_t out, float scale, int64_t* lo, int64_t* hi) {
  if (scale <= 0.0f) {
    *lo = 0;
    *hi = out - 1;
    return;
  }
  int64_t first = static_cast<int64_t>(floorf((static_cast<float>(v) - 1.0f) / scale)) - 1;
  int64_t last = static_cast<int64_t>(ceilf((static_cast<float>(v) + 1.0f) / scale)) + 1;
  *lo = first < 0 ? 0 : first;
  *hi = last > out - 1 ? out - 1 : last;
}

__global__ void resize_backward_kernel(const float* __restrict__ dy, int64_t planes, int64_t out_h,
                                       int64_t out_w, float* __restrict__ dx, int64_t in_h, int64_t in_w,
                                       float sy, float sx) {
  const size_t total = static_cast<size_t>(planes * in_h * in_w);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t xx = static_cast<int64_t>(i % in_w);
    const int64_t yy = static_cast<int64_t>((i / in_w) % in_h);
    const int64_t plane = static_cast<int64_t>(i / (in_w * in_h));
    const float* d = dy + plane * out_h * out_w;
    int64_t oy0, oy1, ox0, ox1;
    output_range(yy, out_h, sy, &oy0, &oy1);
    output_range(xx, out_w, sx, &ox0, &ox1);
    float grad = 0.0f;
    for (int64_t oy = oy0; oy <= oy1; ++oy) {
      const float wy = tap_weight(source_tap(oy, in_h, sy), yy);
      if (wy == 0.0f) continue;
      float row = 0.0f;
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        const float wx = tap_weight(source_tap(ox, in_w, sx), xx);
        if (wx != 0.0f) row += wx * d[oy * out_w + ox];
      }
      grad += wy * row;
    }
    dx[i] = grad;
  }
}

}  // namespace

void launch_resize_bilinear_forward(const float* x, int64_t planes, int64_t in_h, int64_t in_w, float* y,
                                    int64_t out_h, int64_t out_w, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(planes * out_h * out_w);
  if (total == 0) return;
  resize_forward_kernel<<<grid_for(total, kResizeBlock), kResizeBlock, 0, stream>>>(
      x, planes, in_h, in_w, y, out_h, out_w, axis_scale(in_h, out_h), axis_scale(in_w, out_w));
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_resize_bilinear_backward(const float* dy, int64_t planes, int64_t out_h, int64_t out_w,
                                     float* dx, int64_t in_h, int64_t in_w, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(planes * in_h * in_w);
  if (total == 0) return;
  resize_backward_kernel<<<grid_for(total, kResizeBlock), kResizeBlock, 0, stream>>>(
      dy, planes, out_h, out_w, dx, in_h, in_w, axis_scale(in_h, out_h), axis_scale(in_w, out_w));
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
