// CPU pooling: max and average pool 2d, adaptive average and max pool, forward and backward.
// Every op works plane by plane (one (n, c) image at a time), in parallel over the N*C planes.
#include <algorithm>
#include <cstring>

#include "cpu/cpu_ops.h"
#include "cpu/parallel.h"
#include "cpu/simd.h"
#include "cpu/workspace.h"

namespace keel::cpu::KEEL_CPU_ISA {

namespace {

// Below this many input elements a fork/join costs more than the work.
constexpr int64_t kMinParallel = 1 << 14;

struct PoolDims {
  int64_t planes, h, w, oh, ow;
};

// The op layer (op_shapes.cpp) has checked every operand and window; these only size the work.
PoolDims window_dims(int64_t n, int64_t c, int64_t h, int64_t w, const Pool2dArgs& a) {
  const int64_t oh = conv_out_size(h, a.kernel, a.stride, a.padding);
  const int64_t ow = conv_out_size(w, a.kernel, a.stride, a.padding);
  return PoolDims{n * c, h, w, oh, ow};
}

// Sizes y for a fixed-window forward pass.
PoolDims window_forward_dims(const Tensor& x, Tensor& y, const Pool2dArgs& a) {
  const PoolDims d = window_dims(x.dim(0), x.dim(1), x.dim(2), x.dim(3), a);
  ensure_output(y, {x.dim(0), x.dim(1), d.oh, d.ow});
  return d;
}

// Input rows [begin, end) under output index o of a fixed window, clipped to the image.
Range window(int64_t o, const Pool2dArgs& a, int64_t in) {
  const int64_t start = o * a.stride - a.padding;
  return Range{std::max<int64_t>(start, 0), std::min<int64_t>(start + a.kernel, in)};
}
// Adaptive cell o of `out` over `in`: [floor(o*in/out), ceil((o+1)*in/out)).
Range cell(int64_t o, int64_t in, int64_t out) {
  return Range{(o * in) / out, ((o + 1) * in + out - 1) / out};
}

// Index (within the plane) of the first maximum over rows ry and columns rx, row-major order.
// Index arithmetic on comparison results instead of branches: on real activations which element
// wins is a coin toss, and mispredicted branches cost several times the whole window.
int64_t first_max(const float* plane, int64_t w, Range ry, Range rx) {
  int64_t where = ry.begin * w + rx.begin;
  float best = plane[where];
  for (int64_t iy = ry.begin; iy < ry.end; ++iy)
    for (int64_t ix = rx.begin; ix < rx.end; ++ix) {
      const int64_t idx = iy * w + ix;
      const float v = plane[idx];
      const int64_t greater = v > best;
      where += greater * (idx - where);
      best = std::max(best, v);
    }
  return where;
}

float window_sum(const float* plane, int64_t w, Range ry, Range rx) {
  float total = 0.0f;
  for (int64_t iy = ry.begin; iy < ry.end; ++iy)
    for (int64_t ix = rx.begin; ix < rx.end; ++ix) total += plane[iy * w + ix];
  return total;
}

// The largest of n contiguous values, as one vectorised reduction (no position: the value of the
// maximum does not depend on which one is first).
float plane_max(const float* src, int64_t n) {
  float best = src[0];
#pragma omp simd reduction(max : best)
  for (int64_t i = 1; i < n; ++i) best = std::max(best, src[i]);
  return best;
}

void add_to_window(float* plane, int64_t w, Range ry, Range rx, float value) {
  for (int64_t iy = ry.begin; iy < ry.end; ++iy)
    for (int64_t ix = rx.begin; ix < rx.end; ++ix) plane[iy * w + ix] += value;
}

// The 2x2, stride 2, no padding pool of the flagship CNN gets its own loops: the generic window
// walk costs several times more than the four loads it does here.
bool is_k2s2(const Pool2dArgs& a) {
  return a.kernel == 2 && a.stride == 2 && a.padding == 0;
}

#if defined(__AVX512F__)
// Rows of at most 16 values (the small CNN's 6×6 planes) go through one vector per row: lanes
// 2i and 2i + 1 of both rows are spread into four vectors a, b, c, d whose lane i is window i.
// std::max(p, q) is _mm512_max_ps(q, p) (both return p on a tie or a NaN), so the results are
// those of the scalar loops bit for bit.
struct RowWindows {
  __m512 a, b, c, d;
};
RowWindows row_windows(const float* r0, const float* r1, __mmask16 in) {
  const __m512i even = _mm512_set_epi32(14, 12, 10, 8, 6, 4, 2, 0, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 15, 13, 11, 9, 7, 5, 3, 1);
  const __m512 v0 = _mm512_maskz_loadu_ps(in, r0), v1 = _mm512_maskz_loadu_ps(in, r1);
  return {_mm512_permutexvar_ps(even, v0), _mm512_permutexvar_ps(odd, v0),
          _mm512_permutexvar_ps(even, v1), _mm512_permutexvar_ps(odd, v1)};
}
#elif defined(__AVX2__)
// Rows of at most 16 values as in the AVX-512 form, the four corners of the windows spread into
// vectors a, b, c, d whose lane i is window i: rows of up to 8 values (the small CNN's 6×6
// planes) give up to four windows, one xmm per corner; rows of up to 16 give eight, one ymm.
// std::max(p, q) is max_ps(q, p), as there, so the results are the scalar loops' bit for bit.
struct Corners4 {
  __m128 a, b, c, d;
};
struct Corners8 {
  __m256 a, b, c, d;
};

// Lanes [0, live) of eight set, as the integer mask _mm256_maskload_ps takes.
inline __m256i lane_mask(int64_t live) {
  alignas(64) static constexpr int32_t kLanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                     0,  0,  0,  0,  0,  0,  0,  0};
  return _mm256_loadu_si256(
      reinterpret_cast<const __m256i*>(kLanes + 8 - std::clamp<int64_t>(live, 0, 8)));
}

// Stores lanes [0, live) of v, live in [0, 4] (xmm) or [0, 8] (ymm), in pieces of 8, 4, 2 and 1.
// Not _mm_maskstore_ps / _mm256_maskstore_ps: on Zen 4 a masked AVX store costs about three
// times these pieces (6.7 ns against 2 ns per store measured in a loop), which made this pool's
// backward pass slower than the scalar loop. `live` is fixed per call, so the branches predict.
inline void store_first(float* p, __m128 v, int64_t live) {
  if (live == 4) {
    _mm_storeu_ps(p, v);
    return;
  }
  if (live & 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), v);
    p += 2;
    v = _mm_movehl_ps(v, v);
  }
  if (live & 1) _mm_store_ss(p, v);
}
inline void store_first(float* p, __m256 v, int64_t live) {
  if (live == 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  __m128 part = _mm256_castps256_ps128(v);
  if (live & 4) {
    _mm_storeu_ps(p, part);
    p += 4;
    part = _mm256_extractf128_ps(v, 1);
  }
  store_first(p, part, live & 3);
}

// Rows r0 and r1 of up to 8 values (in: their lanes): even lanes to the low half, odd to the high.
inline Corners4 narrow_corners(const float* r0, const float* r1, __m256i in) {
  const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256 v0 = _mm256_permutevar8x32_ps(_mm256_maskload_ps(r0, in), split);
  const __m256 v1 = _mm256_permutevar8x32_ps(_mm256_maskload_ps(r1, in), split);
  return {_mm256_castps256_ps128(v0), _mm256_extractf128_ps(v0, 1), _mm256_castps256_ps128(v1),
          _mm256_extractf128_ps(v1, 1)};
}

// The even and odd values of a row of 9 to 16 (in_hi: the lanes of its second half). The in-lane
// shuffle gives [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6]; the 64-bit permute puts lo before hi.
inline void split_row(const float* r, __m256i in_hi, __m256& even, __m256& odd) {
  const __m256 lo = _mm256_loadu_ps(r), hi = _mm256_maskload_ps(r + 8, in_hi);
  auto gather = [](__m256 v) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
  };
  even = gather(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)));
  odd = gather(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)));
}
inline Corners8 wide_corners(const float* r0, const float* r1, __m256i in_hi) {
  Corners8 v;
  split_row(r0, in_hi, v.a, v.b);
  split_row(r1, in_hi, v.c, v.d);
  return v;
}

// The five operations window_max and route_gradient need, for both widths: one body each.
inline __m128 vmax(__m128 p, __m128 q) {
  return _mm_max_ps(p, q);
}
inline __m256 vmax(__m256 p, __m256 q) {
  return _mm256_max_ps(p, q);
}
inline __m128 vgreater(__m128 p, __m128 q) {
  return _mm_cmp_ps(p, q, _CMP_GT_OQ);
}
inline __m256 vgreater(__m256 p, __m256 q) {
  return _mm256_cmp_ps(p, q, _CMP_GT_OQ);
}
inline __m128 vor(__m128 p, __m128 q) {
  return _mm_or_ps(p, q);
}
inline __m256 vor(__m256 p, __m256 q) {
  return _mm256_or_ps(p, q);
}
inline __m128 vand(__m128 p, __m128 q) {
  return _mm_and_ps(p, q);
}
inline __m256 vand(__m256 p, __m256 q) {
  return _mm256_and_ps(p, q);
}
inline __m128 vandnot(__m128 p, __m128 q) {  // ~p & q
  return _mm_andnot_ps(p, q);
}
inline __m256 vandnot(__m256 p, __m256 q) {
  return _mm256_andnot_ps(p, q);
}

// std::max(std::max(a, b), std::max(c, d)) per window.
template <class Corners>
auto window_max(const Corners& v) {
  return vmax(vmax(v.d, v.c), vmax(v.b, v.a));
}

// Each window's gradient g at the corner that is its first maximum in row-major order (the
// scalar path's comparisons), +0.0f at the other three.
template <class Corners>
Corners route_gradient(const Corners& v, decltype(Corners::a) g) {
  const auto gt1 = vgreater(v.b, v.a), ab = vmax(v.b, v.a);
  const auto gt2 = vgreater(v.c, ab), gt3 = vgreater(v.d, vmax(v.c, ab));
  const auto later = vor(gt2, gt3);  // c or d wins
  return {vandnot(vor(gt1, later), g), vandnot(later, vand(gt1, g)), vandnot(gt3, vand(gt2, g)),
          vand(gt3, g)};
}

// A row from two window vectors: lane 2i from lane i of `first`, lane 2i + 1 from `second`.
inline __m256 interleave(__m128 first, __m128 second) {
  return _mm256_set_m128(_mm_unpackhi_ps(first, second), _mm_unpacklo_ps(first, second));
}
// The same for sixteen lanes, as two halves.
inline void interleave(__m256 first, __m256 second, __m256& lo, __m256& hi) {
  const __m256 p = _mm256_unpacklo_ps(first, second), q = _mm256_unpackhi_ps(first, second);
  lo = _mm256_permute2f128_ps(p, q, 0x20);
  hi = _mm256_permute2f128_ps(p, q, 0x31);
}
#endif

void max_pool_k2s2_plane(const float* src, int64_t w, float* dst, int64_t oh, int64_t ow) {
#if defined(__AVX512F__)
  if (w <= 16) {
    const __mmask16 in = static_cast<__mmask16>((1u << w) - 1u);
    const __mmask16 out = static_cast<__mmask16>((1u << ow) - 1u);
    for (int64_t oy = 0; oy < oh; ++oy) {
      const RowWindows v = row_windows(src + 2 * oy * w, src + (2 * oy + 1) * w, in);
      const __m512 m = _mm512_max_ps(_mm512_max_ps(v.d, v.c), _mm512_max_ps(v.b, v.a));
      _mm512_mask_storeu_ps(dst + oy * ow, out, m);
    }
    return;
  }
#elif defined(__AVX2__)
  if (w <= 8) {
    const __m256i in = lane_mask(w);
    for (int64_t oy = 0; oy < oh; ++oy) {
      const Corners4 v = narrow_corners(src + 2 * oy * w, src + (2 * oy + 1) * w, in);
      store_first(dst + oy * ow, window_max(v), ow);
    }
    return;
  }
  if (w <= 16) {
    const __m256i in_hi = lane_mask(w - 8);
    for (int64_t oy = 0; oy < oh; ++oy) {
      const Corners8 v = wide_corners(src + 2 * oy * w, src + (2 * oy + 1) * w, in_hi);
      store_first(dst + oy * ow, window_max(v), ow);
    }
    return;
  }
#endif
  for (int64_t oy = 0; oy < oh; ++oy) {
    const float* r0 = src + 2 * oy * w;
    const float* r1 = r0 + w;
    for (int64_t ox = 0; ox < ow; ++ox)
      dst[oy * ow + ox] =
          std::max(std::max(r0[2 * ox], r0[2 * ox + 1]), std::max(r1[2 * ox], r1[2 * ox + 1]));
  }
}

// Gives each window's gradient to its first maximum in row-major order (a, b, c, d), zero to the
// rest of the plane (h × w).
void max_pool_k2s2_backward_plane(const float* src, const float* grad, int64_t h, int64_t w,
                                  float* dst, int64_t oh, int64_t ow) {
#if defined(__AVX512F__)
  if (w <= 16) {
    // Whole rows written at once, so no zeroing pass: the windows cover rows [0, 2·oh) and, in
    // them, every column (the last one of an odd width gets lane 2·ow, which is zero).
    const __mmask16 in = static_cast<__mmask16>((1u << w) - 1u);
    const __mmask16 out = static_cast<__mmask16>((1u << ow) - 1u);
    // Lane 2i of a row takes lane i of its first operand, lane 2i + 1 lane i of the second.
    const __m512i interleave =
        _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int64_t oy = 0; oy < oh; ++oy) {
      const RowWindows v = row_windows(src + 2 * oy * w, src + (2 * oy + 1) * w, in);
      // 0 + g as in the scalar path's add to a zeroed plane (a -0 gradient becomes +0).
      const __m512 g =
          _mm512_add_ps(_mm512_setzero_ps(), _mm512_maskz_loadu_ps(out, grad + oy * ow));
      const __mmask16 gt1 = _mm512_cmp_ps_mask(v.b, v.a, _CMP_GT_OQ);
      const __m512 ab = _mm512_max_ps(v.b, v.a);  // std::max(a, b)
      const __mmask16 gt2 = _mm512_cmp_ps_mask(v.c, ab, _CMP_GT_OQ);
      const __mmask16 gt3 = _mm512_cmp_ps_mask(v.d, _mm512_max_ps(v.c, ab), _CMP_GT_OQ);
      const __mmask16 to_d = gt3, to_c = gt2 & ~gt3, to_b = gt1 & ~gt2 & ~gt3;
      const __mmask16 to_a = ~(gt1 | gt2 | gt3);
      const __m512 row0 = _mm512_permutex2var_ps(_mm512_maskz_mov_ps(to_a, g), interleave,
                                                 _mm512_maskz_mov_ps(to_b, g));
      const __m512 row1 = _mm512_permutex2var_ps(_mm512_maskz_mov_ps(to_c, g), interleave,
                                                 _mm512_maskz_mov_ps(to_d, g));
      _mm512_mask_storeu_ps(dst + 2 * oy * w, in, row0);
      _mm512_mask_storeu_ps(dst + (2 * oy + 1) * w, in, row1);
    }
    if (2 * oh < h) std::memset(dst + 2 * oh * w, 0, sizeof(float) * (h - 2 * oh) * w);
    return;
  }
#elif defined(__AVX2__)
  // Whole rows written at once, as in the AVX-512 form: the last column of an odd width gets
  // lane 2·ow of a, which routes the masked-off gradient lane ow, zero.
  if (w <= 8) {
    const __m256i in = lane_mask(w);
    const __m128i out = _mm256_castsi256_si128(lane_mask(ow));
    for (int64_t oy = 0; oy < oh; ++oy) {
      const Corners4 v = narrow_corners(src + 2 * oy * w, src + (2 * oy + 1) * w, in);
      // 0 + g as in the scalar path's add to a zeroed plane (a -0 gradient becomes +0).
      const __m128 g = _mm_add_ps(_mm_setzero_ps(), _mm_maskload_ps(grad + oy * ow, out));
      const Corners4 to = route_gradient(v, g);
      store_first(dst + 2 * oy * w, interleave(to.a, to.b), w);
      store_first(dst + (2 * oy + 1) * w, interleave(to.c, to.d), w);
    }
    if (2 * oh < h) std::memset(dst + 2 * oh * w, 0, sizeof(float) * (h - 2 * oh) * w);
    return;
  }
  if (w <= 16) {
    const __m256i in_hi = lane_mask(w - 8), out = lane_mask(ow);
    for (int64_t oy = 0; oy < oh; ++oy) {
      const Corners8 v = wide_corners(src + 2 * oy * w, src + (2 * oy + 1) * w, in_hi);
      const __m256 g = _mm256_add_ps(_mm256_setzero_ps(), _mm256_maskload_ps(grad + oy * ow, out));
      const Corners8 to = route_gradient(v, g);
      __m256 lo, hi;
      interleave(to.a, to.b, lo, hi);
      _mm256_storeu_ps(dst + 2 * oy * w, lo);
      store_first(dst + 2 * oy * w + 8, hi, w - 8);
      interleave(to.c, to.d, lo, hi);
      _mm256_storeu_ps(dst + (2 * oy + 1) * w, lo);
      store_first(dst + (2 * oy + 1) * w + 8, hi, w - 8);
    }
    if (2 * oh < h) std::memset(dst + 2 * oh * w, 0, sizeof(float) * (h - 2 * oh) * w);
    return;
  }
#endif
  std::memset(dst, 0, sizeof(float) * h * w);
  for (int64_t oy = 0; oy < oh; ++oy) {
    const int64_t row0 = 2 * oy * w, row1 = row0 + w;
    for (int64_t ox = 0; ox < ow; ++ox) {
      // Branch-free for the reason given at first_max.
      const int64_t i0 = row0 + 2 * ox, i2 = row1 + 2 * ox;
      const float a = src[i0], b = src[i0 + 1], c = src[i2], d = src[i2 + 1];
      int64_t where = i0;
      const int64_t gt1 = b > a;
      where += gt1;
      const float ab = std::max(a, b);
      const int64_t gt2 = c > ab;
      where += gt2 * (i2 - where);
      const int64_t gt3 = d > std::max(ab, c);
      where += gt3 * (i2 + 1 - where);
      dst[where] += grad[oy * ow + ox];
    }
  }
}

}  // namespace

// x: (N, C, H, W) -> y: (N, C, H', W'), H' = (H + 2p - k) / s + 1
void max_pool2d_forward(const Tensor& x, Tensor& y, Pool2dArgs a) {
  const PoolDims d = window_forward_dims(x, y, a);
  const float* xp = x.data();
  float* yp = y.data();
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
  for (int64_t p = 0; p < d.planes; ++p) {
    const float* src = xp + p * d.h * d.w;
    float* dst = yp + p * d.oh * d.ow;
    if (is_k2s2(a)) {
      max_pool_k2s2_plane(src, d.w, dst, d.oh, d.ow);
      continue;
    }
    for (int64_t oy = 0; oy < d.oh; ++oy) {
      const Range ry = window(oy, a, d.h);
      for (int64_t ox = 0; ox < d.ow; ++ox)
        dst[oy * d.ow + ox] = src[first_max(src, d.w, ry, window(ox, a, d.w))];
    }
  }
}

// x: (N, C, H, W), dy: (N, C, H', W') -> dx: (N, C, H, W); each window's gradient goes to its
// first maximum, recomputed from x (no saved indices to keep in sync with the forward pass).
void max_pool2d_backward(const Tensor& x, const Tensor& dy, Tensor& dx, Pool2dArgs a) {
  const PoolDims d = window_dims(x.dim(0), x.dim(1), x.dim(2), x.dim(3), a);
  dx.ensure(x.shape(), Device::cpu);
  const float* xp = x.data();
  const float* gp = dy.data();
  float* dxp = dx.data();
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
  for (int64_t p = 0; p < d.planes; ++p) {
    const float* src = xp + p * d.h * d.w;
    const float* grad = gp + p * d.oh * d.ow;
    float* dst = dxp + p * d.h * d.w;
    if (is_k2s2(a)) {
      max_pool_k2s2_backward_plane(src, grad, d.h, d.w, dst, d.oh, d.ow);
      continue;
    }
    std::memset(dst, 0, sizeof(float) * d.h * d.w);
    for (int64_t oy = 0; oy < d.oh; ++oy) {
      const Range ry = window(oy, a, d.h);
      for (int64_t ox = 0; ox < d.ow; ++ox)
        dst[first_max(src, d.w, ry, window(ox, a, d.w))] += grad[oy * d.ow + ox];
    }
  }
}

// x: (N, C, H, W) -> y: (N, C, H', W'); padding counts as zeros (divisor k*k)
void avg_pool2d_forward(const Tensor& x, Tensor& y, Pool2dArgs a) {
  const PoolDims d = window_forward_dims(x, y, a);
  const float inv = 1.0f / static_cast<float>(a.kernel * a.kernel);
  const float* xp = x.data();
  float* yp = y.data();
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
  for (int64_t p = 0; p < d.planes; ++p) {
    const float* src = xp + p * d.h * d.w;
    float* dst = yp + p * d.oh * d.ow;
    for (int64_t oy = 0; oy < d.oh; ++oy) {
      const Range ry = window(oy, a, d.h);
      for (int64_t ox = 0; ox < d.ow; ++ox)
        dst[oy * d.ow + ox] = window_sum(src, d.w, ry, window(ox, a, d.w)) * inv;
    }
  }
}

// dy: (N, C, H', W') -> dx: (N, C, in_h, in_w)
void avg_pool2d_backward(const Tensor& dy, Tensor& dx, Pool2dArgs a, int64_t in_h, int64_t in_w) {
  const PoolDims d = window_dims(dy.dim(0), dy.dim(1), in_h, in_w, a);
  ensure_output(dx, {dy.dim(0), dy.dim(1), in_h, in_w});
  const float inv = 1.0f / static_cast<float>(a.kernel * a.kernel);
  const float* gp = dy.data();
  float* dxp = dx.data();
#pragma omp parallel for schedule(static) if (dx.numel() >= kMinParallel)
  for (int64_t p = 0; p < d.planes; ++p) {
    const float* grad = gp + p * d.oh * d.ow;
    float* dst = dxp + p * d.h * d.w;
    std::memset(dst, 0, sizeof(float) * d.h * d.w);
    for (int64_t oy = 0; oy < d.oh; ++oy) {
      const Range ry = window(oy, a, d.h);
      for (int64_t ox = 0; ox < d.ow; ++ox)
        add_to_window(dst, d.w, ry, window(ox, a, d.w), grad[oy * d.ow + ox] * inv);
    }
  }
}

namespace {
// Sizes y for an adaptive forward pass.
PoolDims adaptive_forward_dims(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) {
  ensure_output(y, {x.dim(0), x.dim(1), out_h, out_w});
  return PoolDims{x.dim(0) * x.dim(1), x.dim(2), x.dim(3), out_h, out_w};
}
}  // namespace

// x: (N, C, H, W) -> y: (N, C, out_h, out_w)
void adaptive_avg_pool2d_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) {
  const PoolDims d = adaptive_forward_dims(x, y, out_h, out_w);
  const int64_t planes = d.planes, h = d.h, w = d.w;
  const bool global = out_h == 1 && out_w == 1;
  const float* xp = x.data();
  float* yp = y.data();
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = xp + p * h * w;
    float* dst = yp + p * out_h * out_w;
    if (global) {  // one contiguous plane: a straight vectorised sum
      float total = 0.0f;
#pragma omp simd reduction(+ : total)
      for (int64_t i = 0; i < h * w; ++i) total += src[i];
      dst[0] = total / static_cast<float>(h * w);
      continue;
    }
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const Range ry = cell(oy, h, out_h);
      for (int64_t ox = 0; ox < out_w; ++ox) {
        const Range rx = cell(ox, w, out_w);
        const float count = static_cast<float>((ry.end - ry.begin) * (rx.end - rx.begin));
        dst[oy * out_w + ox] = window_sum(src, w, ry, rx) / count;
      }
    }
  }
}

// dy: (N, C, H', W') -> dx: (N, C, in_h, in_w)
void adaptive_avg_pool2d_backward(const Tensor& dy, Tensor& dx, int64_t in_h, int64_t in_w) {
  const int64_t planes = dy.dim(0) * dy.dim(1), out_h = dy.dim(2), out_w = dy.dim(3);
  const bool global = out_h == 1 && out_w == 1;
  ensure_output(dx, {dy.dim(0), dy.dim(1), in_h, in_w});
  const float* gp = dy.data();
  float* dxp = dx.data();
#pragma omp parallel for schedule(static) if (dx.numel() >= kMinParallel)
  for (int64_t p = 0; p < planes; ++p) {
    const float* grad = gp + p * out_h * out_w;
    float* dst = dxp + p * in_h * in_w;
    if (global) {  // every input pixel gets the same share: a fill, no zeroing pass
      const float share = grad[0] / static_cast<float>(in_h * in_w);
      for (int64_t i = 0; i < in_h * in_w; ++i) dst[i] = share;
      continue;
    }
    std::memset(dst, 0, sizeof(float) * in_h * in_w);
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const Range ry = cell(oy, in_h, out_h);
      for (int64_t ox = 0; ox < out_w; ++ox) {
        const Range rx = cell(ox, in_w, out_w);
        const float count = static_cast<float>((ry.end - ry.begin) * (rx.end - rx.begin));
        add_to_window(dst, in_w, ry, rx, grad[oy * out_w + ox] / count);
      }
    }
  }
}

// x: (N, C, H, W) -> y: (N, C, out_h, out_w)
void adaptive_max_pool2d_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) {
  const PoolDims d = adaptive_forward_dims(x, y, out_h, out_w);
  const int64_t planes = d.planes, h = d.h, w = d.w;
  const bool global = out_h == 1 && out_w == 1;
  const float* xp = x.data();
  float* yp = y.data();
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = xp + p * h * w;
    float* dst = yp + p * out_h * out_w;
    if (global) {
      dst[0] = plane_max(src, h * w);
      continue;
    }
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const Range ry = cell(oy, h, out_h);
      for (int64_t ox = 0; ox < out_w; ++ox)
        dst[oy * out_w + ox] = src[first_max(src, w, ry, cell(ox, w, out_w))];
    }
  }
}

// x: (N, C, H, W), dy: (N, C, H', W') -> dx: (N, C, H, W); gradient to each cell's first maximum
void adaptive_max_pool2d_backward(const Tensor& x, const Tensor& dy, Tensor& dx) {
  const int64_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
  const int64_t out_h = dy.dim(2), out_w = dy.dim(3);
  const bool global = out_h == 1 && out_w == 1;
  dx.ensure(x.shape(), Device::cpu);
  const float* xp = x.data();
  const float* gp = dy.data();
  float* dxp = dx.data();
#pragma omp parallel for schedule(static) if (x.numel() >= kMinParallel)
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = xp + p * h * w;
    const float* grad = gp + p * out_h * out_w;
    float* dst = dxp + p * h * w;
    std::memset(dst, 0, sizeof(float) * h * w);
    if (global) {
      // The maximum by a vectorised reduction, then its first position by a backward scan of
      // independent selects: no serial compare-and-update chain through the plane.
      const float best = plane_max(src, h * w);
      int64_t where = 0;  // stays 0 only if nothing compares equal (a NaN plane)
      for (int64_t i = h * w - 1; i >= 0; --i) where = src[i] == best ? i : where;
      dst[where] = grad[0];
      continue;
    }
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const Range ry = cell(oy, h, out_h);
      for (int64_t ox = 0; ox < out_w; ++ox)
        dst[first_max(src, w, ry, cell(ox, w, out_w))] += grad[oy * out_w + ox];
    }
  }
}

}  // namespace keel::cpu::KEEL_CPU_ISA
