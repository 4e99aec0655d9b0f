// CPU batch normalisation, 2d (N, C, H, W) and 1d (N, C): training with batch statistics and
// running averages, evaluation with the running statistics, and the backward pass.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/check.h"
#include "cpu/cpu_ops.h"

namespace keel::cpu {

namespace {

// Below this many elements a fork/join costs more than the work.
constexpr int64_t kMinParallel = 1 << 14;
// In the 1d case a channel's values are C apart; a block of 16 channels is one 64-byte line per
// row, so each row is read once per block and the inner loop vectorises across channels.
constexpr int64_t kBlock1d = 16;

// The view every batch-norm op works on: x as (N, C, L) with L = H*W (2d) or 1 (1d).
struct BnDims {
  int64_t n, c, l;
  int64_t count() const { return n * l; }  // values per channel
};

BnDims bn_dims(const Tensor& x, const char* op) {
  KEEL_CHECK(x.defined() && x.device() == Device::cpu, "{}: x must be a defined CPU tensor", op);
  KEEL_CHECK(x.ndim() == 2 || x.ndim() == 4, "{}: x must be (N, C) or (N, C, H, W), got {}", op,
             x.shape().str());
  const int64_t l = x.ndim() == 4 ? x.dim(2) * x.dim(3) : 1;
  return BnDims{x.dim(0), x.dim(1), l};
}

void expect_channels(const Tensor& t, int64_t c, const char* what) {
  expect_shape(t, Shape{c}, what);
}

// Two sums of term(a[k], b[k], acc1, acc2) over one channel's n planes of l values (planes
// `stride` apart), accumulated in double. The accumulators are 8-wide vector registers reduced once
// per channel: a horizontal reduction after every plane (what `omp simd reduction` does) costs
// more than the 9-36 values of a small CNN's plane. `term` is generic, so the same expression
// serves the vector body and the scalar tail.
using Float8 = float __attribute__((vector_size(32)));
using Double8 = double __attribute__((vector_size(64)));

template <typename Term>
void channel_sums(int64_t n, int64_t l, int64_t stride, const float* a, const float* b, Term term,
                  double& sum1, double& sum2) {
  Double8 acc1 = {}, acc2 = {};
  double tail1 = 0.0, tail2 = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float* pa = a + i * stride;
    const float* pb = b + i * stride;
    int64_t k = 0;
    for (; k + 8 <= l; k += 8) {
      Float8 va, vb;
      std::memcpy(&va, pa + k, sizeof va);  // unaligned loads
      std::memcpy(&vb, pb + k, sizeof vb);
      term(__builtin_convertvector(va, Double8), __builtin_convertvector(vb, Double8), acc1, acc2);
    }
    for (; k < l; ++k) term(static_cast<double>(pa[k]), static_cast<double>(pb[k]), tail1, tail2);
  }
  sum1 = tail1;
  sum2 = tail2;
  for (int j = 0; j < 8; ++j) {
    sum1 += acc1[j];
    sum2 += acc2[j];
  }
}

// y = (x - m) a + b over one channel's n planes of l values, planes `stride` apart (2d layout).
// Centred rather than folding m into b, which would cancel in float when |mean| >> std.
void normalize_channel(const float* x, float* y, int64_t n, int64_t l, int64_t stride, float m,
                       float a, float b) {
  for (int64_t i = 0; i < n; ++i) {
    const float* src = x + i * stride;
    float* dst = y + i * stride;
#pragma omp simd
    for (int64_t k = 0; k < l; ++k) dst[k] = (src[k] - m) * a + b;
  }
}

// The same for a block of cb adjacent channels of n rows `stride` apart (1d layout), with the
// per-channel m, a and b of the block.
void normalize_block(const float* x, float* y, int64_t n, int64_t cb, int64_t stride,
                     const float* m, const float* a, const float* b) {
  for (int64_t i = 0; i < n; ++i) {
    const float* row = x + i * stride;
    float* out = y + i * stride;
#pragma omp simd
    for (int64_t j = 0; j < cb; ++j) out[j] = (row[j] - m[j]) * a[j] + b[j];
  }
}
}  // namespace

// x: (N, C, H, W) or (N, C); gamma, beta, running_mean, running_var: (C)
// -> y like x; save_mean, save_invstd: (C)
void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                              Tensor& running_mean, Tensor& running_var, float momentum, float eps,
                              Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  const BnDims d = bn_dims(x, "batch_norm_forward_train");
  expect_channels(gamma, d.c, "batch_norm_forward_train: gamma");
  expect_channels(beta, d.c, "batch_norm_forward_train: beta");
  expect_channels(running_mean, d.c, "batch_norm_forward_train: running_mean");
  expect_channels(running_var, d.c, "batch_norm_forward_train: running_var");
  KEEL_CHECK(d.count() > 1,
             "batch_norm_forward_train: need more than one value per channel to train, got x {}; "
             "use a batch larger than 1",
             x.shape().str());
  y.ensure(x.shape(), Device::cpu);
  save_mean.ensure(Shape{d.c}, Device::cpu);
  save_invstd.ensure(Shape{d.c}, Device::cpu);

  const float* xp = x.data();
  const float* gp = gamma.data();
  const float* bp = beta.data();
  float* rmp = running_mean.data();
  float* rvp = running_var.data();
  float* yp = y.data();
  float* smp = save_mean.data();
  float* sip = save_invstd.data();
  const int64_t n = d.n, c = d.c, l = d.l;
  const double count = static_cast<double>(d.count());
  const double unbias = count / (count - 1.0);

  // Statistics in one read pass: sums of d = x - K and d² in double, with K the channel's first
  // value. Shifting by a sample of the channel keeps Σd² - (Σd)²/M from cancelling even when
  // |mean| >> std (plain E[x²] - E[x]² would), and saves the separate pass for the mean.
  auto finish_channel = [&](int64_t ch, double shift, double s1, double s2) {
    const double mean = shift + s1 / count;
    const double var = std::max(0.0, (s2 - s1 * s1 / count) / count);
    const double invstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
    smp[ch] = static_cast<float>(mean);
    sip[ch] = static_cast<float>(invstd);
    rmp[ch] = static_cast<float>((1.0 - momentum) * rmp[ch] + momentum * mean);
    rvp[ch] = static_cast<float>((1.0 - momentum) * rvp[ch] + momentum * var * unbias);
  };

  if (l > 1) {
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
    for (int64_t ch = 0; ch < c; ++ch) {
      const double shift = xp[ch * l];
      double s1, s2;
      channel_sums(
          n, l, c * l, xp + ch * l, xp + ch * l,
          [shift](auto v, auto, auto& t1, auto& t2) {
            const auto dev = v - shift;
            t1 += dev;
            t2 += dev * dev;
          },
          s1, s2);
      finish_channel(ch, shift, s1, s2);
      normalize_channel(xp + ch * l, yp + ch * l, n, l, c * l, smp[ch], gp[ch] * sip[ch], bp[ch]);
    }
    return;
  }

  const int64_t blocks = (c + kBlock1d - 1) / kBlock1d;
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock1d, cb = std::min(kBlock1d, c - c0);
    double shift[kBlock1d], s1[kBlock1d] = {}, s2[kBlock1d] = {};
    for (int64_t j = 0; j < cb; ++j) shift[j] = xp[c0 + j];
    for (int64_t i = 0; i < n; ++i) {
      const float* row = xp + i * c + c0;
#pragma omp simd
      for (int64_t j = 0; j < cb; ++j) {
        const double dev = row[j] - shift[j];
        s1[j] += dev;
        s2[j] += dev * dev;
      }
    }
    float a[kBlock1d], m[kBlock1d], b[kBlock1d];
    for (int64_t j = 0; j < cb; ++j) {
      finish_channel(c0 + j, shift[j], s1[j], s2[j]);
      a[j] = gp[c0 + j] * sip[c0 + j];
      m[j] = smp[c0 + j];
      b[j] = bp[c0 + j];
    }
    normalize_block(xp + c0, yp + c0, n, cb, c, m, a, b);
  }
}

// x: (N, C, H, W) or (N, C); gamma, beta, running_mean, running_var: (C) -> y like x
void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                             const Tensor& running_mean, const Tensor& running_var, float eps,
                             Tensor& y) {
  const BnDims d = bn_dims(x, "batch_norm_forward_eval");
  expect_channels(gamma, d.c, "batch_norm_forward_eval: gamma");
  expect_channels(beta, d.c, "batch_norm_forward_eval: beta");
  expect_channels(running_mean, d.c, "batch_norm_forward_eval: running_mean");
  expect_channels(running_var, d.c, "batch_norm_forward_eval: running_var");
  y.ensure(x.shape(), Device::cpu);
  const float* xp = x.data();
  const float* gp = gamma.data();
  const float* bp = beta.data();
  const float* rmp = running_mean.data();
  const float* rvp = running_var.data();
  float* yp = y.data();
  const int64_t n = d.n, c = d.c, l = d.l;

  // y = (x - mean) a + beta with a = gamma / sqrt(var + eps) per channel.
  auto coefficients = [&](int64_t ch, float& a, float& m) {
    a = static_cast<float>(gp[ch] / std::sqrt(static_cast<double>(rvp[ch]) + eps));
    m = rmp[ch];
  };

  if (l > 1) {
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
    for (int64_t ch = 0; ch < c; ++ch) {
      float a, m;
      coefficients(ch, a, m);
      normalize_channel(xp + ch * l, yp + ch * l, n, l, c * l, m, a, bp[ch]);
    }
    return;
  }

  const int64_t blocks = (c + kBlock1d - 1) / kBlock1d;
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock1d, cb = std::min(kBlock1d, c - c0);
    float a[kBlock1d], m[kBlock1d], b[kBlock1d];
    for (int64_t j = 0; j < cb; ++j) {
      coefficients(c0 + j, a[j], m[j]);
      b[j] = bp[c0 + j];
    }
    normalize_block(xp + c0, yp + c0, n, cb, c, m, a, b);
  }
}

// x, dy: (N, C, H, W) or (N, C); gamma, save_mean, save_invstd: (C)
// -> dx like x, dgamma, dbeta: (C). With x̂ = (x - mean) invstd and M values per channel:
//    dbeta = Σ dy, dgamma = Σ dy x̂, dx = gamma invstd (dy - dbeta/M - x̂ dgamma/M).
void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dgamma,
                         Tensor& dbeta) {
  const BnDims d = bn_dims(x, "batch_norm_backward");
  expect_channels(gamma, d.c, "batch_norm_backward: gamma");
  expect_channels(save_mean, d.c, "batch_norm_backward: save_mean");
  expect_channels(save_invstd, d.c, "batch_norm_backward: save_invstd");
  expect_shape(dy, x.shape(), "batch_norm_backward: dy");
  dx.ensure(x.shape(), Device::cpu);
  dgamma.ensure(Shape{d.c}, Device::cpu);
  dbeta.ensure(Shape{d.c}, Device::cpu);
  const float* xp = x.data();
  const float* gp = gamma.data();
  const float* mp = save_mean.data();
  const float* ip = save_invstd.data();
  const float* dyp = dy.data();
  float* dxp = dx.data();
  float* dgp = dgamma.data();
  float* dbp = dbeta.data();
  const int64_t n = d.n, c = d.c, l = d.l;
  const double count = static_cast<double>(d.count());

  // Folds the formula above into dx = p dy + q (x - mean) + r, one fused pass per element
  // (centred, like the forward pass, so a large mean does not cancel).
  auto coefficients = [&](int64_t ch, double sdy, double sdyx, float& p, float& q, float& r) {
    const double invstd = ip[ch];
    const double dg = sdyx * invstd;
    dbp[ch] = static_cast<float>(sdy);
    dgp[ch] = static_cast<float>(dg);
    const double a = gp[ch] * invstd;
    p = static_cast<float>(a);
    q = static_cast<float>(-a * invstd * dg / count);
    r = static_cast<float>(-a * sdy / count);
  };

  if (l > 1) {
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
    for (int64_t ch = 0; ch < c; ++ch) {
      const double mean = mp[ch];
      double sdy, sdyx;
      channel_sums(
          n, l, c * l, xp + ch * l, dyp + ch * l,
          [mean](auto v, auto g, auto& t1, auto& t2) {
            t1 += g;
            t2 += g * (v - mean);
          },
          sdy, sdyx);
      float p, q, r;
      coefficients(ch, sdy, sdyx, p, q, r);
      const float m = mp[ch];
      for (int64_t i = 0; i < n; ++i) {
        const float* xs = xp + (i * c + ch) * l;
        const float* gs = dyp + (i * c + ch) * l;
        float* out = dxp + (i * c + ch) * l;
#pragma omp simd
        for (int64_t k = 0; k < l; ++k) out[k] = p * gs[k] + q * (xs[k] - m) + r;
      }
    }
    return;
  }

  const int64_t blocks = (c + kBlock1d - 1) / kBlock1d;
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock1d, cb = std::min(kBlock1d, c - c0);
    double sdy[kBlock1d] = {}, sdyx[kBlock1d] = {}, mean[kBlock1d];
    for (int64_t j = 0; j < cb; ++j) mean[j] = mp[c0 + j];
    for (int64_t i = 0; i < n; ++i) {
      const float* xs = xp + i * c + c0;
      const float* gs = dyp + i * c + c0;
#pragma omp simd
      for (int64_t j = 0; j < cb; ++j) {
        sdy[j] += gs[j];
        sdyx[j] += static_cast<double>(gs[j]) * (xs[j] - mean[j]);
      }
    }
    float p[kBlock1d], q[kBlock1d], r[kBlock1d], m[kBlock1d];
    for (int64_t j = 0; j < cb; ++j) {
      coefficients(c0 + j, sdy[j], sdyx[j], p[j], q[j], r[j]);
      m[j] = mp[c0 + j];
    }
    for (int64_t i = 0; i < n; ++i) {
      const float* xs = xp + i * c + c0;
      const float* gs = dyp + i * c + c0;
      float* out = dxp + i * c + c0;
#pragma omp simd
      for (int64_t j = 0; j < cb; ++j) out[j] = p[j] * gs[j] + q[j] * (xs[j] - m[j]) + r[j];
    }
  }
}

}  // namespace keel::cpu
