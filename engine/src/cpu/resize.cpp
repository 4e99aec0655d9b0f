// CPU bilinear resize with aligned corners (forward and backward), the demo's image scaling: source
// coordinate = dst * (in - 1) / (out - 1), and 0 when the output has a single row or column.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/check.h"
#include "cpu/cpu_ops.h"

namespace keel::cpu::KEEL_CPU_ISA {

namespace {

// Below this many output elements a fork/join costs more than the work.
constexpr int64_t kMinParallel = 1 << 14;

// Output index o reads input i0 with weight 1 - f and i1 with weight f.
struct Tap {
  int64_t i0, i1;
  float f;
};

// dst * (in - 1) is formed exactly in integers and divided once, so a source that should land
// on an input pixel does so exactly (scale * dst in float can miss it by an ulp).
Tap tap(int64_t o, int64_t in, int64_t out) {
  if (out == 1) return Tap{0, 0, 0.0f};
  const int64_t num = o * (in - 1), den = out - 1;
  const int64_t i0 = num / den;
  const float f = static_cast<float>(num - i0 * den) / static_cast<float>(den);
  return Tap{i0, std::min(i0 + 1, in - 1), f};
}

// The taps of every output row and column, computed once per call instead of once per plane;
// columns are kept as separate arrays with 32-bit indices so the inner loop vectorises (gathers).
// thread_local keeps them allocated across calls (no allocation per step after the first).
struct Taps {
  std::vector<Tap> rows;
  std::vector<int32_t> col0, col1;
  std::vector<float> colf;
};
const Taps& taps_for(int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w) {
  KEEL_CHECK(in_w <= INT32_MAX, "resize_bilinear: width {} too large", in_w);
  thread_local Taps taps;
  taps.rows.resize(static_cast<size_t>(out_h));
  taps.col0.resize(static_cast<size_t>(out_w));
  taps.col1.resize(static_cast<size_t>(out_w));
  taps.colf.resize(static_cast<size_t>(out_w));
  for (int64_t o = 0; o < out_h; ++o) taps.rows[o] = tap(o, in_h, out_h);
  for (int64_t o = 0; o < out_w; ++o) {
    const Tap t = tap(o, in_w, out_w);
    taps.col0[o] = static_cast<int32_t>(t.i0);
    taps.col1[o] = static_cast<int32_t>(t.i1);
    taps.colf[o] = t.f;
  }
  return taps;
}

}  // namespace

// x: (N, C, H, W) -> y: (N, C, out_h, out_w)
void resize_bilinear_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) {
  const int64_t h = x.dim(2), w = x.dim(3), planes = x.dim(0) * x.dim(1);
  y.ensure(Shape{x.dim(0), x.dim(1), out_h, out_w}, Device::cpu);
  const Taps& t = taps_for(h, w, out_h, out_w);
  const Tap* rows = t.rows.data();
  const int32_t* col0 = t.col0.data();
  const int32_t* col1 = t.col1.data();
  const float* colf = t.colf.data();
  const float* xp = x.data();
  float* yp = y.data();
#pragma omp parallel for schedule(static) if (y.numel() >= kMinParallel)
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = xp + p * h * w;
    float* dst = yp + p * out_h * out_w;
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const Tap ty = rows[oy];
      const float* r0 = src + ty.i0 * w;
      const float* r1 = src + ty.i1 * w;
      float* out = dst + oy * out_w;
#pragma omp simd
      for (int64_t ox = 0; ox < out_w; ++ox) {
        const float a = r0[col0[ox]], b = r0[col1[ox]], c = r1[col0[ox]], d = r1[col1[ox]];
        const float top = a + colf[ox] * (b - a);
        const float bottom = c + colf[ox] * (d - c);
        out[ox] = top + ty.f * (bottom - top);
      }
    }
  }
}

// dy: (N, C, out_h, out_w) -> dx: (N, C, in_h, in_w); each output spreads its gradient over its
// four taps with the forward weights
void resize_bilinear_backward(const Tensor& dy, Tensor& dx, int64_t in_h, int64_t in_w) {
  const int64_t out_h = dy.dim(2), out_w = dy.dim(3), planes = dy.dim(0) * dy.dim(1);
  dx.ensure(Shape{dy.dim(0), dy.dim(1), in_h, in_w}, Device::cpu);
  const Taps& t = taps_for(in_h, in_w, out_h, out_w);
  const Tap* rows = t.rows.data();
  const int32_t* col0 = t.col0.data();
  const int32_t* col1 = t.col1.data();
  const float* colf = t.colf.data();
  const float* gp = dy.data();
  float* dxp = dx.data();
#pragma omp parallel for schedule(static) if (dy.numel() >= kMinParallel)
  for (int64_t p = 0; p < planes; ++p) {
    const float* grad = gp + p * out_h * out_w;
    float* dst = dxp + p * in_h * in_w;
    std::memset(dst, 0, sizeof(float) * in_h * in_w);
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const Tap ty = rows[oy];
      float* r0 = dst + ty.i0 * in_w;
      float* r1 = dst + ty.i1 * in_w;
      for (int64_t ox = 0; ox < out_w; ++ox) {
        const float g = grad[oy * out_w + ox], f = colf[ox];
        const float g0 = g * (1.0f - ty.f), g1 = g * ty.f;
        r0[col0[ox]] += g0 * (1.0f - f);
        r0[col1[ox]] += g0 * f;
        r1[col0[ox]] += g1 * (1.0f - f);
        r1[col1[ox]] += g1 * f;
      }
    }
  }
}

}  // namespace keel::cpu::KEEL_CPU_ISA
