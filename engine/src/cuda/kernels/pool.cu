// Pooling kernels (see pool.cuh).
#include "grid_stride.cuh"
#include "pool.cuh"

#include <cfloat>

#include "cuda/check.h"
#include "cuda/context.h"

namespace keel::cuda {

namespace {

// Index of the first maximum of window (oy, ox) in plane p, or -1 when the window is all padding.
__device__ int64_t window_argmax(const float* p, const PoolGeometry& g, int64_t oy, int64_t ox) {
  const int64_t y0 = oy * g.stride - g.padding, x0 = ox * g.stride - g.padding;
  int64_t best = -1;
  float best_value = -FLT_MAX;
  for (int64_t r = 0; r < g.kernel; ++r) {
    const int64_t yy = y0 + r;
    if (yy < 0 || yy >= g.h) continue;
    for (int64_t s = 0; s < g.kernel; ++s) {
      const int64_t xx = x0 + s;
      if (xx < 0 || xx >= g.w) continue;
      const float v = p[yy * g.w + xx];
      if (best < 0 || v > best_value) {
        best = yy * g.w + xx;
        best_value = v;
      }
    }
  }
  return best;
}

__global__ void max_pool_forward_kernel(const float* __restrict__ x, PoolGeometry g, float* __restrict__ y) {
  const size_t total = static_cast<size_t>(g.planes * g.out_h * g.out_w);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ox = static_cast<int64_t>(i % g.out_w);
    const int64_t oy = static_cast<int64_t>((i / g.out_w) % g.out_h);
    const int64_t plane = static_cast<int64_t>(i / (g.out_w * g.out_h));
    const float* p = x + plane * g.h * g.w;
    const int64_t best = window_argmax(p, g, oy, ox);
    y[i] = best >= 0 ? p[best] : 0.0f;
  }
}

// Output windows along one axis that contain input position v: o·stride - padding <= v < ... + kernel.
__device__ void window_range(int64_t v, int kernel, int stride, int padding, int64_t out, int64_t* lo,
                             int64_t* hi) {
  const int64_t t = v + padding;
  int64_t first = t - kernel + 1;
  first = first <= 0 ? 0 : (first + stride - 1) / stride;
  int64_t last = t / stride;
  if (last > out - 1) last = out - 1;
  *lo = first;
  *hi = last;
}

__global__ void max_pool_backward_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                         PoolGeometry g, float* __restrict__ dx) {
  const size_t total = static_cast<size_t>(g.planes * g.h * g.w);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t xx = static_cast<int64_t>(i % g.w);
    const int64_t yy = static_cast<int64_t>((i / g.w) % g.h);
    const int64_t plane = static_cast<int64_t>(i / (g.w * g.h));
    const float* p = x + plane * g.h * g.w;
    const float* d = dy + plane * g.out_h * g.out_w;
    const int64_t me = yy * g.w + xx;
    int64_t oy0, oy1, ox0, ox1;
    window_range(yy, g.kernel, g.stride, g.padding, g.out_h, &oy0, &oy1);
    window_range(xx, g.kernel, g.stride, g.padding, g.out_w, &ox0, &ox1);
    float grad = 0.0f;
    for (int64_t oy = oy0; oy <= oy1; ++oy)
      for (int64_t ox = ox0; ox <= ox1; ++ox)
        if (window_argmax(p, g, oy, ox) == me) grad += d[oy * g.out_w + ox];
    dx[i] = grad;
  }
}

__global__ void avg_pool_forward_kernel(const float* __restrict__ x, PoolGeometry g, float* __restrict__ y) {
  const size_t total = static_cast<size_t>(g.planes * g.out_h * g.out_w);
  const float inv = 1.0f / static_cast<float>(g.kernel * g.kernel);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ox = static_cast<int64_t>(i % g.out_w);
    const int64_t oy = static_cast<int64_t>((i / g.out_w) % g.out_h);
    const int64_t plane = static_cast<int64_t>(i / (g.out_w * g.out_h));
    const float* p = x + plane * g.h * g.w;
    float total_value = 0.0f;
    for (int64_t r = 0; r < g.kernel; ++r) {
      const int64_t yy = oy * g.stride - g.padding + r;
      if (yy < 0 || yy >= g.h) continue;
      for (int64_t s = 0; s < g.kernel; ++s) {
        const int64_t xx = ox * g.stride - g.padding + s;
        if (xx >= 0 && xx < g.w) total_value += p[yy * g.w + xx];
      }
    }
    y[i] = total_value * inv;
  }
}

__global__ void avg_pool_backward_kernel(const float* __restrict__ dy, PoolGeometry g, float* __restrict__ dx) {
  const size_t total = static_cast<size_t>(g.planes * g.h * g.w);
  const float inv = 1.0f / static_cast<float>(g.kernel * g.kernel);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t xx = static_cast<int64_t>(i % g.w);
    const int64_t yy = static_cast<int64_t>((i / g.w) % g.h);
    const int64_t plane = static_cast<int64_t>(i / (g.w * g.h));
    const float* d = dy + plane * g.out_h * g.out_w;
    int64_t oy0, oy1, ox0, ox1;
    window_range(yy, g.kernel, g.stride, g.padding, g.out_h, &oy0, &oy1);
    window_range(xx, g.kernel, g.stride, g.padding, g.out_w, &ox0, &ox1);
    float grad = 0.0f;
    for (int64_t oy = oy0; oy <= oy1; ++oy)
      for (int64_t ox = ox0; ox <= ox1; ++ox) grad += d[oy * g.out_w + ox];
    dx[i] = grad * inv;
  }
}

__device__ int64_t adaptive_begin(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
__device__ int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

__global__ void adaptive_avg_forward_kernel(const float* __restrict__ x, PoolGeometry g, float* __restrict__ y) {
  const size_t total = static_cast<size_t>(g.planes * g.out_h * g.out_w);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ox = static_cast<int64_t>(i % g.out_w);
    const int64_t oy = static_cast<int64_t>((i / g.out_w) % g.out_h);
    const int64_t plane = static_cast<int64_t>(i / (g.out_w * g.out_h));
    const float* p = x + plane * g.h * g.w;
    const int64_t y0 = adaptive_begin(oy, g.h, g.out_h), y1 = adaptive_end(oy, g.h, g.out_h);
    const int64_t x0 = adaptive_begin(ox, g.w, g.out_w), x1 = adaptive_end(ox, g.w, g.out_w);
    float total_value = 0.0f;
    for (int64_t yy = y0; yy < y1; ++yy)
      for (int64_t xx = x0; xx < x1; ++xx) total_value += p[yy * g.w + xx];
    y[i] = total_value / static_cast<float>((y1 - y0) * (x1 - x0));
  }
}

// Output cells along one axis whose adaptive window contains input position v (a small superset
// is scanned and tested exactly).
__device__ void adaptive_range(int64_t v, int64_t in, int64_t out, int64_t* lo, int64_t* hi) {
  int64_t first = (v * out) / in - 1;
  int64_t last = ((v + 1) * out) / in + 1;
  *lo = first < 0 ? 0 : first;
  *hi = last > out - 1 ? out - 1 : last;
}

__global__ void adaptive_avg_backward_kernel(const float* __restrict__ dy, PoolGeometry g,
                                             float* __restrict__ dx) {
  const size_t total = static_cast<size_t>(g.planes * g.h * g.w);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t xx = static_cast<int64_t>(i % g.w);
    const int64_t yy = static_cast<int64_t>((i / g.w) % g.h);
    const int64_t plane = static_cast<int64_t>(i / (g.w * g.h));
    const float* d = dy + plane * g.out_h * g.out_w;
    int64_t oy0, oy1, ox0, ox1;
    adaptive_range(yy, g.h, g.out_h, &oy0, &oy1);
    adaptive_range(xx, g.w, g.out_w, &ox0, &ox1);
    float grad = 0.0f;
    for (int64_t oy = oy0; oy <= oy1; ++oy) {
      const int64_t y0 = adaptive_begin(oy, g.h, g.out_h), y1 = adaptive_end(oy, g.h, g.out_h);
      if (yy < y0 || yy >= y1) continue;
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        const int64_t x0 = adaptive_begin(ox, g.w, g.out_w), x1 = adaptive_end(ox, g.w, g.out_w);
        if (xx < x0 || xx >= x1) continue;
        grad += d[oy * g.out_w + ox] / static_cast<float>((y1 - y0) * (x1 - x0));
      }
    }
    dx[i] = grad;
  }
}

__device__ int64_t adaptive_argmax(const float* p, const PoolGeometry& g, int64_t oy, int64_t ox) {
  const int64_t y0 = adaptive_begin(oy, g.h, g.out_h), y1 = adaptive_end(oy, g.h, g.out_h);
  const int64_t x0 = adaptive_begin(ox, g.w, g.out_w), x1 = adaptive_end(ox, g.w, g.out_w);
  int64_t best = y0 * g.w + x0;
  float best_value = p[best];
  for (int64_t yy = y0; yy < y1; ++yy)
    for (int64_t xx = x0; xx < x1; ++xx)
      if (p[yy * g.w + xx] > best_value) {
        best = yy * g.w + xx;
        best_value = p[best];
      }
  return best;
}

__global__ void adaptive_max_forward_kernel(const float* __restrict__ x, PoolGeometry g, float* __restrict__ y) {
  const size_t total = static_cast<size_t>(g.planes * g.out_h * g.out_w);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ox = static_cast<int64_t>(i % g.out_w);
    const int64_t oy = static_cast<int64_t>((i / g.out_w) % g.out_h);
    const int64_t plane = static_cast<int64_t>(i / (g.out_w * g.out_h));
    const float* p = x + plane * g.h * g.w;
    y[i] = p[adaptive_argmax(p, g, oy, ox)];
  }
}

__global__ void adaptive_max_backward_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                             PoolGeometry g, float* __restrict__ dx) {
  const size_t total = static_cast<size_t>(g.planes * g.h * g.w);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t xx = static_cast<int64_t>(i % g.w);
    const int64_t yy = static_cast<int64_t>((i / g.w) % g.h);
    const int64_t plane = static_cast<int64_t>(i / (g.w * g.h));
    const float* p = x + plane * g.h * g.w;
    const float* d = dy + plane * g.out_h * g.out_w;
    const int64_t me = yy * g.w + xx;
    int64_t oy0, oy1, ox0, ox1;
    adaptive_range(yy, g.h, g.out_h, &oy0, &oy1);
    adaptive_range(xx, g.w, g.out_w, &ox0, &ox1);
    float grad = 0.0f;
    for (int64_t oy = oy0; oy <= oy1; ++oy)
      for (int64_t ox = ox0; ox <= ox1; ++ox)
        if (adaptive_argmax(p, g, oy, ox) == me) grad += d[oy * g.out_w + ox];
    dx[i] = grad;
  }
}

size_t out_count(const PoolGeometry& g) { return static_cast<size_t>(g.planes * g.out_h * g.out_w); }
size_t in_count(const PoolGeometry& g) { return static_cast<size_t>(g.planes * g.h * g.w); }

}  // namespace

#define KEEL_POOL_LAUNCH(kernel, count, ...)                                          \
  do {                                                                                \
    const size_t n_ = (count);                                                        \
    if (n_ == 0) return;                                                              \
    kernel<<<grid_for(n_, kPoolBlock), kPoolBlock, 0, stream>>>(__VA_ARGS__);         \
    KEEL_CUDA_CHECK_LAUNCH();                                                         \
  } while (0)

void launch_max_pool_forward(const float* x, const PoolGeometry& g, float* y, cudaStream_t stream) {
  KEEL_POOL_LAUNCH(max_pool_forward_kernel, out_count(g), x, g, y);
}
void launch_max_pool_backward(const float* x, const float* dy, const PoolGeometry& g, float* dx,
                              cudaStream_t stream) {
  KEEL_POOL_LAUNCH(max_pool_backward_kernel, in_count(g), x, dy, g, dx);
}
void launch_avg_pool_forward(const float* x, const PoolGeometry& g, float* y, cudaStream_t stream) {
  KEEL_POOL_LAUNCH(avg_pool_forward_kernel, out_count(g), x, g, y);
}
void launch_avg_pool_backward(const float* dy, const PoolGeometry& g, float* dx, cudaStream_t stream) {
  KEEL_POOL_LAUNCH(avg_pool_backward_kernel, in_count(g), dy, g, dx);
}
void launch_adaptive_avg_forward(const float* x, const PoolGeometry& g, float* y, cudaStream_t stream) {
  KEEL_POOL_LAUNCH(adaptive_avg_forward_kernel, out_count(g), x, g, y);
}
void launch_adaptive_avg_backward(const float* dy, const PoolGeometry& g, float* dx, cudaStream_t stream) {
  KEEL_POOL_LAUNCH(adaptive_avg_backward_kernel, in_count(g), dy, g, dx);
}
void launch_adaptive_max_forward(const float* x, const PoolGeometry& g, float* y, cudaStream_t stream) {
  KEEL_POOL_LAUNCH(adaptive_max_forward_kernel, out_count(g), x, g, y);
}
void launch_adaptive_max_backward(const float* x, const float* dy, const PoolGeometry& g, float* dx,
                                  cudaStream_t stream) {
  KEEL_POOL_LAUNCH(adaptive_max_backward_kernel, in_count(g), x, dy, g, dx);
}

}  // namespace keel::cuda
