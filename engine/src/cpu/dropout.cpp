// CPU inverted dropout. The mask comes from Philox counters exactly as op_list.inc states, so the
// CUDA kernel reproduces it bit for bit and the result does not depend on the thread count.
#include <algorithm>
#include <cstring>

#include "common/check.h"
#include "common/philox.h"
#include "cpu/cpu_ops.h"
#include "keel/random.h"

namespace keel::cpu {

namespace {
// Below this many elements a fork/join costs more than the work.
constexpr int64_t kMinParallel = 1 << 14;
}  // namespace

// x: any shape -> y, mask: same shape. Element i keeps when to_uniform(word i%4 of
// philox::draw(seed, base + i/4)) >= p, with base = gen.reserve(ceil(numel/4)); mask = keep/(1-p).
void dropout_forward(const Tensor& x, float p, Generator& gen, Tensor& y, Tensor& mask) {
  KEEL_CHECK(x.defined() && x.device() == Device::cpu, "dropout_forward: x must be a CPU tensor");
  KEEL_CHECK(p >= 0.0f && p < 1.0f, "dropout_forward: p = {} must be in [0, 1)", p);
  const int64_t n = x.numel();
  y.ensure(x.shape(), Device::cpu);
  mask.ensure(x.shape(), Device::cpu);
  // Counters are reserved even for p = 0, so the generator's state after a step does not
  // depend on the dropout rate.
  const uint64_t base = gen.reserve(static_cast<uint64_t>((n + 3) / 4));
  const uint64_t seed = gen.seed();
  const float* xp = x.data();
  float* yp = y.data();
  float* mp = mask.data();
  if (p == 0.0f) {  // u >= 0 always holds: the identity mask, without drawing
    for (int64_t i = 0; i < n; ++i) mp[i] = 1.0f;
    if (yp != xp) std::memcpy(yp, xp, sizeof(float) * n);
    return;
  }
  const float keep_scale = 1.0f / (1.0f - p);
  auto apply = [&](int64_t i, uint32_t word) {
    const float m = philox::to_uniform(word) >= p ? keep_scale : 0.0f;
    mp[i] = m;
    yp[i] = xp[i] * m;
  };
  // Whole groups of four in a branch-free body that the compiler vectorises across counters
  // (Philox is a handful of 32x32->64 multiplies per round); the partial last group after it.
  const int64_t full = n / 4;
#pragma omp parallel for simd schedule(static) if (n >= kMinParallel)
  for (int64_t g = 0; g < full; ++g) {
    const philox::Words words = philox::draw(seed, base + static_cast<uint64_t>(g));
    apply(4 * g, words.w[0]);
    apply(4 * g + 1, words.w[1]);
    apply(4 * g + 2, words.w[2]);
    apply(4 * g + 3, words.w[3]);
  }
  if (n % 4 != 0) {
    const philox::Words words = philox::draw(seed, base + static_cast<uint64_t>(full));
    for (int64_t i = 4 * full; i < n; ++i) apply(i, words.w[i % 4]);
  }
}

// dy, mask: same shape -> dx = dy * mask; dx may be dy
void dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) {
  KEEL_CHECK(dy.defined() && dy.device() == Device::cpu,
             "dropout_backward: dy must be a CPU tensor");
  expect_shape(mask, dy.shape(), "dropout_backward: mask");
  dx.ensure(dy.shape(), Device::cpu);
  const float* gp = dy.data();
  const float* mp = mask.data();
  float* dp = dx.data();
  const int64_t n = dy.numel();
#pragma omp parallel for simd schedule(static) if (n >= kMinParallel)
  for (int64_t i = 0; i < n; ++i) dp[i] = gp[i] * mp[i];
}

}  // namespace keel::cpu
