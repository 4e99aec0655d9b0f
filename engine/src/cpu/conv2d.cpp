// CPU 2-D convolution, forward and backward (dx, dw, db), as batched im2col + GEMM.
// Each OpenMP thread owns a fixed, contiguous range of images, so results do not depend on timing.
#include <algorithm>
#include <cstring>

#include <Eigen/Core>
#include <omp.h>

#include "common/check.h"
#include "cpu/cpu_ops.h"
#include "cpu/workspace.h"
#include "keel/runtime.h"

namespace keel::cpu {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapRM = Eigen::Map<RowMatrix, Eigen::Aligned64>;
using ConstMapRM = Eigen::Map<const RowMatrix>;

struct ConvShape {
  int64_t n, c, h, w;  // input x
  int64_t k, r, s;     // filters w
  int64_t oh, ow;      // output y
  int64_t stride, pad;
  int64_t crs() const { return c * r * s; }
  int64_t pixels() const { return oh * ow; }
};

ConvShape conv_shape(const char* op, const Tensor& x, const Tensor& w, Conv2dArgs a) {
  KEEL_CHECK(x.defined() && w.defined(), "{}: x and w must be defined", op);
  KEEL_CHECK(x.device() == Device::cpu && w.device() == Device::cpu,
             "{}: x and w must be CPU tensors", op);
  KEEL_CHECK(x.ndim() == 4, "{}: x must be (N, C, H, W), got {}", op, x.shape().str());
  KEEL_CHECK(w.ndim() == 4, "{}: w must be (K, C, R, S), got {}", op, w.shape().str());
  KEEL_CHECK(w.dim(1) == x.dim(1), "{}: w {} expects {} input channels but x {} has {}", op,
             w.shape().str(), w.dim(1), x.shape().str(), x.dim(1));
  KEEL_CHECK(a.stride >= 1 && a.padding >= 0, "{}: stride {} must be >= 1 and padding {} >= 0", op,
             a.stride, a.padding);
  ConvShape g{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), 0, 0,
              a.stride, a.padding};
  g.oh = conv_out_size(g.h, g.r, a.stride, a.padding);
  g.ow = conv_out_size(g.w, g.s, a.stride, a.padding);
  KEEL_CHECK(g.oh >= 1 && g.ow >= 1 && g.n >= 1 && g.k >= 1 && g.c >= 1,
             "{}: kernel {} with padding {} does not fit input {}", op, w.shape().str(), a.padding,
             x.shape().str());
  return g;
}

// Images [begin, end) of thread t out of `threads`: a fixed partition of the batch.
struct Range {
  int64_t begin, end;
};
Range split(int64_t n, int t, int threads) { return {n * t / threads, n * (t + 1) / threads}; }

// cols (C·R·S) × ((n1 − n0)·H'·W'), row-major: column (n − n0)·P + p holds the receptive field of
// output pixel p of image n; padding reads as zero.
void im2col(const float* x, const ConvShape& g, int64_t n0, int64_t n1, float* cols) {
  const int64_t pixels = g.pixels(), ld = (n1 - n0) * pixels;
  for (int64_t c = 0; c < g.c; ++c) {
    for (int64_t r = 0; r < g.r; ++r) {
      for (int64_t s = 0; s < g.s; ++s) {
        float* row = cols + ((c * g.r + r) * g.s + s) * ld;
        for (int64_t n = n0; n < n1; ++n) {
          const float* plane = x + (n * g.c + c) * g.h * g.w;
          for (int64_t oh = 0; oh < g.oh; ++oh) {
            float* dst = row + (n - n0) * pixels + oh * g.ow;
            const int64_t ih = oh * g.stride - g.pad + r;
            if (ih < 0 || ih >= g.h) {
              std::fill(dst, dst + g.ow, 0.0f);
              continue;
            }
            for (int64_t ow = 0; ow < g.ow; ++ow) {
              const int64_t iw = ow * g.stride - g.pad + s;
              dst[ow] = (iw >= 0 && iw < g.w) ? plane[ih * g.w + iw] : 0.0f;
            }
          }
        }
      }
    }
  }
}

// The adjoint of im2col: dx[n, c, ih, iw] += cols[(c, r, s), (n − n0)·P + p]; dx must be zeroed.
void col2im(const float* cols, const ConvShape& g, int64_t n0, int64_t n1, float* dx) {
  const int64_t pixels = g.pixels(), ld = (n1 - n0) * pixels;
  for (int64_t c = 0; c < g.c; ++c) {
    for (int64_t r = 0; r < g.r; ++r) {
      for (int64_t s = 0; s < g.s; ++s) {
        const float* row = cols + ((c * g.r + r) * g.s + s) * ld;
        for (int64_t n = n0; n < n1; ++n) {
          float* plane = dx + (n * g.c + c) * g.h * g.w;
          for (int64_t oh = 0; oh < g.oh; ++oh) {
            const int64_t ih = oh * g.stride - g.pad + r;
            if (ih < 0 || ih >= g.h) continue;
            const float* src = row + (n - n0) * pixels + oh * g.ow;
            for (int64_t ow = 0; ow < g.ow; ++ow) {
              const int64_t iw = ow * g.stride - g.pad + s;
              if (iw >= 0 && iw < g.w) plane[ih * g.w + iw] += src[ow];
            }
          }
        }
      }
    }
  }
}

// Images per GEMM: enough columns to make the GEMM efficient, few enough that the column buffer
// stays in the core's L2 cache.
int64_t images_per_chunk(const ConvShape& g) {
  constexpr int64_t kChunkFloats = 256 * 1024;
  return std::max<int64_t>(1, kChunkFloats / std::max<int64_t>(1, g.crs() * g.pixels()));
}

}  // namespace

// x: (N, C, H, W), w: (K, C, R, S), b: (K) or undefined -> y: (N, K, H', W')
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, Conv2dArgs a) {
  const ConvShape g = conv_shape("conv2d_forward", x, w, a);
  if (b.defined()) expect_shape(b, Shape{g.k}, "conv2d_forward: bias b");
  y.ensure(Shape{g.n, g.k, g.oh, g.ow}, Device::cpu);

  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), g.n));
  const int64_t chunk = std::min(images_per_chunk(g), (g.n + threads - 1) / threads);
  const int64_t pixels = g.pixels();
  const size_t cols_per_thread = cache_line_floats(static_cast<size_t>(g.crs() * chunk * pixels));
  const size_t out_per_thread = cache_line_floats(static_cast<size_t>(g.k * chunk * pixels));
  float* cols_all = scratch(ScratchSlot::columns, cols_per_thread * threads);
  float* out_all = scratch(ScratchSlot::partial, out_per_thread * threads);
  const float* xp = x.data();
  const float* bp = b.defined() ? b.data() : nullptr;
  float* yp = y.data();
  const ConstMapRM wm(w.data(), g.k, g.crs());

#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const Range mine = split(g.n, t, omp_get_num_threads());
    float* cols = cols_all + cols_per_thread * t;
    float* out = out_all + out_per_thread * t;
    for (int64_t n0 = mine.begin; n0 < mine.end; n0 += chunk) {
      const int64_t n1 = std::min(mine.end, n0 + chunk), ncols = (n1 - n0) * pixels;
      im2col(xp, g, n0, n1, cols);
      MapRM(out, g.k, ncols).noalias() = wm * ConstMapRM(cols, g.crs(), ncols);
      // (K, images·P) -> (images, K, P): one contiguous copy of P floats per (image, channel).
      for (int64_t n = n0; n < n1; ++n) {
        for (int64_t k = 0; k < g.k; ++k) {
          const float* src = out + k * ncols + (n - n0) * pixels;
          float* dst = yp + (n * g.k + k) * pixels;
          const float bias = bp ? bp[k] : 0.0f;
          for (int64_t p = 0; p < pixels; ++p) dst[p] = src[p] + bias;
        }
      }
    }
  }
}

// dy: (N, K, H', W') -> dx: (N, C, H, W) (if dx != nullptr), dw: (K, C, R, S), db: (K) (if != nullptr)
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                     Tensor* db, Conv2dArgs a) {
  const ConvShape g = conv_shape("conv2d_backward", x, w, a);
  expect_shape(dy, Shape{g.n, g.k, g.oh, g.ow}, "conv2d_backward: dy");
  dw.ensure(w.shape(), Device::cpu);
  if (dx) dx->ensure(x.shape(), Device::cpu);
  if (db) db->ensure(Shape{g.k}, Device::cpu);

  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), g.n));
  const int64_t chunk = std::min(images_per_chunk(g), (g.n + threads - 1) / threads);
  const int64_t pixels = g.pixels(), crs = g.crs();
  const size_t cols_per_thread = cache_line_floats(static_cast<size_t>(crs * chunk * pixels));
  const size_t dy_per_thread = cache_line_floats(static_cast<size_t>(g.k * chunk * pixels));
  const size_t dw_per_thread = cache_line_floats(static_cast<size_t>(g.k * crs));
  float* cols_all = scratch(ScratchSlot::columns, cols_per_thread * threads);
  float* dcols_all = dx ? scratch(ScratchSlot::packed_a, cols_per_thread * threads) : nullptr;
  float* dyc_all = scratch(ScratchSlot::packed_b, dy_per_thread * threads);
  float* dw_all = scratch(ScratchSlot::partial, dw_per_thread * threads);
  const float* xp = x.data();
  const float* dyp = dy.data();
  float* dxp = dx ? dx->data() : nullptr;
  const ConstMapRM wm(w.data(), g.k, crs);

#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const Range mine = split(g.n, t, omp_get_num_threads());
    float* cols = cols_all + cols_per_thread * t;
    float* dyc = dyc_all + dy_per_thread * t;
    MapRM dw_t(dw_all + dw_per_thread * t, g.k, crs);
    dw_t.setZero();
    if (dxp) {
      std::fill(dxp + mine.begin * g.c * g.h * g.w, dxp + mine.end * g.c * g.h * g.w, 0.0f);
    }
    for (int64_t n0 = mine.begin; n0 < mine.end; n0 += chunk) {
      const int64_t n1 = std::min(mine.end, n0 + chunk), ncols = (n1 - n0) * pixels;
      // (images, K, P) -> (K, images·P)
      for (int64_t n = n0; n < n1; ++n) {
        for (int64_t k = 0; k < g.k; ++k) {
          std::memcpy(dyc + k * ncols + (n - n0) * pixels, dyp + (n * g.k + k) * pixels,
                      sizeof(float) * pixels);
        }
      }
      const ConstMapRM dym(dyc, g.k, ncols);
      im2col(xp, g, n0, n1, cols);
      dw_t.noalias() += dym * ConstMapRM(cols, crs, ncols).transpose();
      if (dxp) {
        float* dcols = dcols_all + cols_per_thread * t;
        MapRM(dcols, crs, ncols).noalias() = wm.transpose() * dym;
        col2im(dcols, g, n0, n1, dxp);
      }
    }
#pragma omp barrier
    // dw = Σ_t partial_t in thread order, each thread summing a fixed slice of dw.
    const Range elems = split(g.k * crs, t, omp_get_num_threads());
    float* dwp = dw.data();
    for (int64_t i = elems.begin; i < elems.end; ++i) {
      float sum = 0.0f;
      for (int u = 0; u < omp_get_num_threads(); ++u) sum += dw_all[dw_per_thread * u + i];
      dwp[i] = sum;
    }
    if (db) {
      const Range ks = split(g.k, t, omp_get_num_threads());
      for (int64_t k = ks.begin; k < ks.end; ++k) {
        double sum = 0.0;
        for (int64_t n = 0; n < g.n; ++n) {
          const float* row = dyp + (n * g.k + k) * pixels;
          for (int64_t p = 0; p < pixels; ++p) sum += row[p];
        }
        db->data()[k] = static_cast<float>(sum);
      }
    }
  }
}

}  // namespace keel::cpu
