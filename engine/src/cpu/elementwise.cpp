// CPU elementwise ops: ReLU forward/backward, add, scale, per-channel normalisation, and the
// channel concatenation/split behind AdaptiveConcatPool2d. All are single streaming passes.
#include <cstring>
#include <vector>

#include "common/check.h"
#include "cpu/cpu_ops.h"
#include "cpu/parallel.h"
#include "cpu/relu_pass.h"

namespace keel::cpu::KEEL_CPU_ISA {

namespace {
// Below this many elements a fork/join costs more than the loop itself (the flagship CNN's
// tensors are ~70k elements, so they do go parallel on two threads).
constexpr int64_t kMinParallel = 1 << 15;

void check_cpu(const Tensor& t, const char* op, const char* what) {
  KEEL_CHECK(t.defined(), "{}: {} is undefined", op, what);
  KEEL_CHECK(t.device() == Device::cpu, "{}: {} is not a CPU tensor", op, what);
}
}  // namespace

// x: any shape -> y: same shape; y may be x.
void relu_forward(const Tensor& x, Tensor& y) {
  check_cpu(x, "relu_forward", "x");
  y.ensure(x.shape(), Device::cpu);
  const float* xp = x.data();
  float* yp = y.data();
  const int64_t n = x.numel();
  for_shares(n, n >= kMinParallel, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) yp[i] = xp[i] > 0.0f ? xp[i] : 0.0f;
  });
}

// y (forward output), dy: same shape -> dx: same shape; dx may be dy.
void relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  check_cpu(y, "relu_backward", "y");
  dx.ensure(y.shape(), Device::cpu);
  const float* yp = y.data();
  const float* dyp = dy.data();
  float* dxp = dx.data();
  const int64_t n = y.numel();
  for_shares(n, n >= kMinParallel, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) dxp[i] = relu_pass(yp[i], dyp[i]);
  });
}

// a, b: same shape -> y: same shape; y may alias a or b (residual connections add in place).
void add(const Tensor& a, const Tensor& b, Tensor& y) {
  check_cpu(a, "add", "a");
  y.ensure(a.shape(), Device::cpu);
  const float* ap = a.data();
  const float* bp = b.data();
  float* yp = y.data();
  const int64_t n = a.numel();
  for_shares(n, n >= kMinParallel, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) yp[i] = ap[i] + bp[i];
  });
}

// x: any shape -> y = alpha x, same shape; y may be x.
void scale(const Tensor& x, float alpha, Tensor& y) {
  check_cpu(x, "scale", "x");
  y.ensure(x.shape(), Device::cpu);
  const float* xp = x.data();
  float* yp = y.data();
  const int64_t n = x.numel();
  for_shares(n, n >= kMinParallel, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) yp[i] = alpha * xp[i];
  });
}

// x: (N, C, H, W), mean, std: (C) -> y: (N, C, H, W), y = (x - mean[c]) / std[c]
void normalize_channels(const Tensor& x, const Tensor& mean, const Tensor& std, Tensor& y) {
  check_cpu(x, "normalize_channels", "x");
  const int64_t n = x.dim(0), c = x.dim(1), plane = x.dim(2) * x.dim(3);
  y.ensure(x.shape(), Device::cpu);
  const float* xp = x.data();
  const float* mp = mean.data();
  const float* sp = std.data();
  float* yp = y.data();
  // Checked before the parallel loop: an exception must not leave an OpenMP region.
  for (int64_t ch = 0; ch < c; ++ch)
    KEEL_CHECK(sp[ch] != 0.0f, "normalize_channels: std[{}] is zero", ch);
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
  for (int64_t nc = 0; nc < n * c; ++nc) {
    const int64_t ch = nc % c;
    // One division per plane, then a multiply per element.
    const float inv = 1.0f / sp[ch], shift = -mp[ch] * inv;
    const float* src = xp + nc * plane;
    float* dst = yp + nc * plane;
#pragma omp simd
    for (int64_t i = 0; i < plane; ++i) dst[i] = src[i] * inv + shift;
  }
}

namespace {
// Elements per sample after the channel dimension: H*W for images, 1 for (N, C).
int64_t inner_size(const Tensor& t) {
  int64_t inner = 1;
  for (int d = 2; d < t.ndim(); ++d) inner *= t.dim(d);
  return inner;
}
}  // namespace

// a: (N, Ca, ...), b: (N, Cb, ...) -> y: (N, Ca + Cb, ...)
void concat_channels(const Tensor& a, const Tensor& b, Tensor& y) {
  check_cpu(a, "concat_channels", "a");
  check_cpu(b, "concat_channels", "b");
  std::vector<int64_t> dims = a.shape().dims();
  dims[1] = a.dim(1) + b.dim(1);
  y.ensure(Shape(std::move(dims)), Device::cpu);
  const int64_t n = a.dim(0), sa = a.dim(1) * inner_size(a), sb = b.dim(1) * inner_size(b);
  const float* ap = a.data();
  const float* bp = b.data();
  float* yp = y.data();
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(yp + i * (sa + sb), ap + i * sa, sizeof(float) * sa);
    std::memcpy(yp + i * (sa + sb) + sa, bp + i * sb, sizeof(float) * sb);
  }
}

// dy: (N, Ca + Cb, ...) -> da: (N, Ca, ...), db: (N, Cb, ...)
void split_channels(const Tensor& dy, int64_t ca, Tensor& da, Tensor& db) {
  check_cpu(dy, "split_channels", "dy");
  std::vector<int64_t> dims_a = dy.shape().dims(), dims_b = dy.shape().dims();
  dims_a[1] = ca;
  dims_b[1] = dy.dim(1) - ca;
  da.ensure(Shape(std::move(dims_a)), Device::cpu);
  db.ensure(Shape(std::move(dims_b)), Device::cpu);
  const int64_t n = dy.dim(0), inner = inner_size(dy);
  const int64_t sa = ca * inner, sb = (dy.dim(1) - ca) * inner;
  const float* src = dy.data();
  float* ap = da.data();
  float* bp = db.data();
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(ap + i * sa, src + i * (sa + sb), sizeof(float) * sa);
    std::memcpy(bp + i * sb, src + i * (sa + sb) + sa, sizeof(float) * sb);
  }
}

}  // namespace keel::cpu::KEEL_CPU_ISA
