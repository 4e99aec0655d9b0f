// Convolution on the CUDA device. keel's own path: im2col of a chunk of images into one column
// matrix, one cuBLAS SGEMM for the whole chunk, and a layout swap back to NCHW. With
// keel::gpu_backend() == GpuBackend::cudnn the same calls go to cuDNN (src/cudnn/).
#include <algorithm>

#include "conv.cuh"
#include "cuda/allocator.h"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/op_util.h"
#include "keel/error.h"
#include "keel/runtime.h"
#include "reduce.cuh"
#if defined(KEEL_HAS_CUDNN)
#include "cudnn/cudnn_ops.h"
#endif

namespace keel::cuda {

namespace {

// Column buffers are capped so that a big batch runs in chunks instead of needing gigabytes:
// 512 MiB holds a whole ResNet-34 layer at batch 64, so those run as one GEMM per layer.
constexpr size_t kColumnBudgetBytes = size_t{512} << 20;

struct ConvPlan {
  int64_t n, k;
  ConvGeometry g;
  int64_t crs() const { return g.c * g.r * g.s; }
  int64_t plane() const { return g.out_h * g.out_w; }
  int64_t chunk;  // images per GEMM
};

ConvPlan plan_conv(const char* op, const Tensor& x, const Tensor& w, Conv2dArgs a) {
  expect_cuda(x, op, "x");
  expect_cuda(w, op, "w");
  expect_ndim(x, 4, op, "x");
  expect_ndim(w, 4, op, "w");
  KEEL_CHECK(x.dim(1) == w.dim(1), "{}: x {} has {} channels but w {} expects {}", op, x.shape().str(),
             x.dim(1), w.shape().str(), w.dim(1));
  KEEL_CHECK(a.stride >= 1 && a.padding >= 0, "{}: stride {} padding {}", op, a.stride, a.padding);
  ConvPlan p{};
  p.n = x.dim(0);
  p.k = w.dim(0);
  p.g.c = x.dim(1);
  p.g.h = x.dim(2);
  p.g.w = x.dim(3);
  p.g.r = w.dim(2);
  p.g.s = w.dim(3);
  p.g.out_h = conv_out_size(p.g.h, p.g.r, a.stride, a.padding);
  p.g.out_w = conv_out_size(p.g.w, p.g.s, a.stride, a.padding);
  p.g.stride = a.stride;
  p.g.padding = a.padding;
  KEEL_CHECK(p.g.out_h > 0 && p.g.out_w > 0, "{}: kernel {}x{} does not fit input {} (padding {})", op,
             p.g.r, p.g.s, x.shape().str(), a.padding);
  const size_t per_image = static_cast<size_t>((p.crs() + p.k) * p.plane()) * sizeof(float);
  p.chunk = std::clamp<int64_t>(static_cast<int64_t>(kColumnBudgetBytes / std::max<size_t>(per_image, 1)), 1,
                                std::max<int64_t>(p.n, 1));
  return p;
}

bool use_cudnn() {
  if (keel::gpu_backend() != GpuBackend::cudnn) return false;
#if defined(KEEL_HAS_CUDNN)
  return true;
#else
  throw Error(ErrorKind::usage,
              "the cudnn GPU backend was selected but this keel build has no cuDNN: install cuDNN 9 "
              "and reconfigure, or select the keel GPU backend");
#endif
}

}  // namespace

// x: (N, C, H, W), w: (K, C, R, S), b: (K) or undefined -> y: (N, K, H', W')
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, Conv2dArgs a) {
  const ConvPlan p = plan_conv("conv2d_forward", x, w, a);
  if (b.defined()) expect_shape(b, Shape{p.k}, "conv2d_forward bias");
  y.ensure(Shape{p.n, p.k, p.g.out_h, p.g.out_w}, Device::cuda);
  if (p.n == 0) return;
#if defined(KEEL_HAS_CUDNN)
  if (use_cudnn()) return cudnn::conv2d_forward(x, w, b, y, a);
#else
  use_cudnn();
#endif
  const int64_t crs = p.crs(), plane = p.plane();
  Scratch col(static_cast<size_t>(crs * p.chunk * plane) * sizeof(float));
  Scratch out(static_cast<size_t>(p.k * p.chunk * plane) * sizeof(float));
  const int64_t in_image = p.g.c * p.g.h * p.g.w, out_image = p.k * plane;
  for (int64_t n0 = 0; n0 < p.n; n0 += p.chunk) {
    const int64_t images = std::min(p.chunk, p.n - n0);
    launch_im2col(x.data() + n0 * in_image, images, p.g, col.as(), stream());
    // out (K, images·P) = w (K, CRS) · col (CRS, images·P)
    gemm(false, false, static_cast<int>(p.k), static_cast<int>(images * plane), static_cast<int>(crs), 1.0f,
         w.data(), col.as(), 0.0f, out.as());
    launch_swap_outer(out.as(), p.k, images, plane, b.defined() ? b.data() : nullptr,
                      y.data() + n0 * out_image, stream());
  }
}

// dy: (N, K, H', W') -> dx: (N, C, H, W) (if dx), dw: (K, C, R, S), db: (K) (if db)
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw, Tensor* db,
                     Conv2dArgs a) {
  const ConvPlan p = plan_conv("conv2d_backward", x, w, a);
  expect_cuda(dy, "conv2d_backward", "dy");
  expect_shape(dy, Shape{p.n, p.k, p.g.out_h, p.g.out_w}, "conv2d_backward dy");
  dw.ensure(w.shape(), Device::cuda);
  if (dx) dx->ensure(x.shape(), Device::cuda);
  if (db) db->ensure(Shape{p.k}, Device::cuda);
  if (p.n == 0) {
    dw.zero_();
    if (db) db->zero_();
    return;
  }
  const int64_t plane = p.plane();
  if (db) {
    Scratch partials(static_cast<size_t>(p.k * channel_reduce_parts(p.n, plane) * 2) * sizeof(float));
    launch_channel_sums(dy.data(), p.n, p.k, plane, partials.as(), db->data(), stream());
  }
#if defined(KEEL_HAS_CUDNN)
  if (use_cudnn()) return cudnn::conv2d_backward(x, w, dy, dx, dw, a);
#else
  use_cudnn();
#endif
  const int64_t crs = p.crs();
  Scratch col(static_cast<size_t>(crs * p.chunk * plane) * sizeof(float));
  Scratch dy_t(static_cast<size_t>(p.k * p.chunk * plane) * sizeof(float));
  const int64_t in_image = p.g.c * p.g.h * p.g.w, out_image = p.k * plane;
  for (int64_t n0 = 0; n0 < p.n; n0 += p.chunk) {
    const int64_t images = std::min(p.chunk, p.n - n0);
    const int columns = static_cast<int>(images * plane);
    // dy chunk (images, K, P) -> (K, images·P), the layout of the column matrix.
    launch_swap_outer(dy.data() + n0 * out_image, images, p.k, plane, nullptr, dy_t.as(), stream());
    launch_im2col(x.data() + n0 * in_image, images, p.g, col.as(), stream());
    // dw (K, CRS) (+)= dy_t (K, cols) · col (CRS, cols)ᵀ; chunks accumulate in a fixed order.
    gemm(false, true, static_cast<int>(p.k), static_cast<int>(crs), columns, 1.0f, dy_t.as(), col.as(),
         n0 == 0 ? 0.0f : 1.0f, dw.data());
    if (dx) {
      // dcol (CRS, cols) = wᵀ (CRS, K) · dy_t (K, cols), reusing the column buffer.
      gemm(true, false, static_cast<int>(crs), columns, static_cast<int>(p.k), 1.0f, w.data(), dy_t.as(), 0.0f,
           col.as());
      launch_col2im(col.as(), images, p.g, dx->data() + n0 * in_image, stream());
    }
  }
}

}  // namespace keel::cuda
