// CPU fused optimizer steps, one pass over the parameters: SGD with momentum / Nesterov / L2 weight
// decay, and AdamW with decoupled weight decay, both with PyTorch's semantics.
#include <algorithm>
#include <cmath>

// First, so that <immintrin.h> (which Eigen includes too) comes in with simd.h's warning filter.
#include "cpu/simd.h"

#include <Eigen/Core>

#include "common/check.h"
#include "cpu/cpu_ops.h"
#include "cpu/parallel.h"

namespace keel::cpu::KEEL_CPU_ISA {

namespace {

// Below this many elements a fork/join costs more than the work.
constexpr int64_t kMinParallel = 1 << 15;
// AdamW's square root and division make an element several times dearer than SGD's update: from
// four of its 2048-element blocks up (a 64 x 128 linear layer, the small CNN's middle convolution)
// two threads finish sooner than one.
constexpr int64_t kMinParallelAdamW = 1 << 13;

}  // namespace

// param, grad, velocity: same shape (velocity may be undefined when momentum is 0).
//   g = grad + wd p;  v = g on the first step, else momentum v + (1 - dampening) g;
//   p -= lr (nesterov ? g + momentum v : v)          (without momentum: p -= lr g)
void sgd_update(Tensor& param, const Tensor& grad, Tensor& velocity, const SgdArgs& a,
                bool first_step) {
  float* pp = param.data();
  const float* gp = grad.data();
  const int64_t n = param.numel();
  const float lr = a.lr, wd = a.weight_decay, mom = a.momentum;
  if (mom == 0.0f) {
    for_shares(n, n >= kMinParallel, [&](int64_t begin, int64_t end) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) pp[i] -= lr * (gp[i] + wd * pp[i]);
    });
    return;
  }
  float* vp = velocity.data();
  const float keep = first_step ? 0.0f : mom, mix = first_step ? 1.0f : 1.0f - a.dampening;
  const bool nesterov = a.nesterov;
  for_shares(n, n >= kMinParallel, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      const float g = gp[i] + wd * pp[i];
      const float v = keep * vp[i] + mix * g;
      vp[i] = v;
      pp[i] -= lr * (nesterov ? g + mom * v : v);
    }
  });
}

// param, grad, m, v: same shape.
//   p *= 1 - lr wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²;
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWArgs& a) {
  // Bias corrections in double: b2^t for t in the thousands loses digits in float.
  const double bc1 = 1.0 - std::pow(static_cast<double>(a.beta1), static_cast<double>(a.step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(a.beta2), static_cast<double>(a.step));
  const float step_size = static_cast<float>(a.lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float decay = 1.0f - a.lr * a.weight_decay;
  const float b1 = a.beta1, b2 = a.beta2, eps = a.eps;
  float* pp = param.data();
  const float* gp = grad.data();
  float* mp = m.data();
  float* vp = v.data();
  const int64_t n = param.numel();
  // Eigen array expressions because they vectorise the square root; a plain loop over std::sqrt
  // stays scalar under the default -fmath-errno. Blocks of 2048 keep the three passes in L1.
  constexpr int64_t kBlock = 2048;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  for_shares(blocks, n >= kMinParallelAdamW, [&](int64_t first, int64_t last) {
    for (int64_t blk = first; blk < last; ++blk) {
      const int64_t begin = blk * kBlock, len = std::min(kBlock, n - begin);
      Eigen::Map<Eigen::ArrayXf> pa(pp + begin, len), ma(mp + begin, len), va(vp + begin, len);
      Eigen::Map<const Eigen::ArrayXf> ga(gp + begin, len);
      ma = b1 * ma + (1.0f - b1) * ga;
      va = b2 * va + (1.0f - b2) * ga.square();
      pa = pa * decay - step_size * ma / (va.sqrt() * inv_sqrt_bc2 + eps);
    }
  });
}

}  // namespace keel::cpu::KEEL_CPU_ISA
