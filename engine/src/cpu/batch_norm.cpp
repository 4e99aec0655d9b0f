// CPU batch normalisation, 2d (N, C, H, W) and 1d (N, C): training with batch statistics and
// running averages, evaluation with the running statistics, and the backward pass.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include <omp.h>

#include "cpu/cpu_ops.h"
#include "cpu/parallel.h"
#include "cpu/relu_pass.h"
#include "cpu/simd.h"
#include "cpu/workspace.h"
#include "keel/runtime.h"

namespace keel::cpu::KEEL_CPU_ISA {

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

// The op layer (op_shapes.cpp) has checked x and the per-channel operands.
BnDims bn_dims(const Tensor& x) {
  const int64_t l = x.ndim() == 4 ? x.dim(2) * x.dim(3) : 1;
  return BnDims{x.dim(0), x.dim(1), l};
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

// ---- the 2d layout, (N, C, L) with L > 1 ------------------------------------------------------
//
// Threads own images, not channels: the convolution before a batch norm writes each thread's
// images into its own core's cache, and a split by channels made every thread read the other
// half of the batch from the other core (a third of the 2-thread forward pass at the flagship's
// sizes). Each thread sums its chunks of images per channel; after a barrier the chunks' sums are
// added in chunk order, so the statistics depend on the shape alone, never on the thread count.

// Images per partial sum: about 8 chunks per batch, a grid fixed by N. Enough chunks to share
// among a few threads; few enough that each chunk of a channel is more than a couple of vectors.
int64_t images_per_chunk(int64_t n) {
  return std::max<int64_t>(1, n / 8);
}

// Sums of d = x - shift and d² over `images` planes of l values, planes `stride` apart, in
// double. Sixteen floats per step, widened to two double vectors; two alternating pairs of
// accumulators (the slot advances with every vector, whatever plane it belongs to) hide the add
// latency that a single chain paid on every 8 values, and masked loads replace the scalar tail of
// a 36- or 9-value plane. Few accumulators, because a chunk of a 3×3 channel is only a few
// vectors and their final reduction is paid per chunk and channel. The order of the adds is
// fixed by the shape.
#if defined(__AVX512F__)
inline __m512d low_half(__m512 v) {
  return _mm512_cvtps_pd(_mm512_castps512_ps256(v));
}
inline __m512d high_half(__m512 v) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}
inline __mmask16 tail_mask(int64_t live) {
  return live >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << live) - 1u);
}
inline double total(const __m512d* acc) {
  return _mm512_reduce_add_pd(
      _mm512_add_pd(_mm512_add_pd(acc[0], acc[1]), _mm512_add_pd(acc[2], acc[3])));
}
#elif defined(__AVX2__)
// The AVX2 form of the same design, eight floats per step widened to two double vectors of four,
// with the same two alternating pairs of accumulators. Whole vectors load plainly; a plane's
// last partial vector goes through _mm256_maskload_ps, whose dead lanes read as 0.0f, and is
// written by store_first.
inline __m256d low_half(__m256 v) {
  return _mm256_cvtps_pd(_mm256_castps256_ps128(v));
}
inline __m256d high_half(__m256 v) {
  return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}
// Lanes [0, live) of eight set, as the integer mask _mm256_maskload_ps takes: a window into a
// table of eight set and eight clear lanes.
inline __m256i tail_mask(int64_t live) {
  alignas(64) static constexpr int32_t kLanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                     0,  0,  0,  0,  0,  0,  0,  0};
  return _mm256_loadu_si256(
      reinterpret_cast<const __m256i*>(kLanes + 8 - std::min<int64_t>(live, 8)));
}
// Stores lanes [0, live) of v, for live in [1, 8), in pieces of 4, 2 and 1. Not
// _mm256_maskstore_ps: on Zen 4 a masked AVX store costs about three times these pieces (6.7 ns
// against 2 ns per store, measured in a loop), a 2x2 pool's worth of them made its vector form
// slower than the scalar loop (pool.cpp). `live` is the same for every plane of a call, so the
// branches predict.
inline void store_first(float* p, __m256 v, int64_t live) {
  __m128 part = _mm256_castps256_ps128(v);
  if (live & 4) {
    _mm_storeu_ps(p, part);
    p += 4;
    part = _mm256_extractf128_ps(v, 1);
  }
  if (live & 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
    p += 2;
    part = _mm_movehl_ps(part, part);
  }
  if (live & 1) _mm_store_ss(p, part);
}
// The mask of the float lanes 0-3 and 4-7 widened to the double lanes of low_half / high_half.
inline __m256d low_lanes(__m256i m) {
  return _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(m)));
}
inline __m256d high_lanes(__m256i m) {
  return _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1)));
}
inline double total(const __m256d* acc) {
  const __m256d v = _mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]));
  const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}
// g where y > 0, else +0.0f: the bits relu_backward passes on (a NaN y passes nothing).
inline __m256 pass_positive(__m256 y, __m256 g) {
  return _mm256_and_ps(_mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ), g);
}
// Sums of two series, each in two alternating pairs of accumulators (a vector's low and high
// halves): add() adds to the current pair, then makes the other one current.
struct AlternatingSums {
  struct Pair {
    __m256d lo1 = _mm256_setzero_pd(), hi1 = _mm256_setzero_pd();
    __m256d lo2 = _mm256_setzero_pd(), hi2 = _mm256_setzero_pd();
  };
  Pair now, next;
  // sum1 += a, sum2 += a b, per half.
  void add(__m256d a_lo, __m256d a_hi, __m256d b_lo, __m256d b_hi) {
    now.lo1 = _mm256_add_pd(now.lo1, a_lo);
    now.lo2 = _mm256_fmadd_pd(a_lo, b_lo, now.lo2);
    now.hi1 = _mm256_add_pd(now.hi1, a_hi);
    now.hi2 = _mm256_fmadd_pd(a_hi, b_hi, now.hi2);
    std::swap(now, next);
  }
  void finish(double& sum1, double& sum2) const {
    const __m256d s1[4] = {now.lo1, now.hi1, next.lo1, next.hi1};
    const __m256d s2[4] = {now.lo2, now.hi2, next.lo2, next.hi2};
    sum1 = total(s1);
    sum2 = total(s2);
  }
};
#endif

void stat_sums(const float* x, int64_t images, int64_t stride, int64_t l, double shift,
               double& sum1, double& sum2) {
#if defined(__AVX512F__)
  __m512d s1[4], s2[4];
  for (int j = 0; j < 4; ++j) s1[j] = s2[j] = _mm512_setzero_pd();
  const __m512d vshift = _mm512_set1_pd(shift);
  int slot = 0;
  for (int64_t i = 0; i < images; ++i) {
    const float* p = x + i * stride;
    for (int64_t k = 0; k < l; k += 16) {
      const __mmask16 m = tail_mask(l - k);
      const __m512 v = _mm512_maskz_loadu_ps(m, p + k);
      const __m512d lo = _mm512_maskz_sub_pd(static_cast<__mmask8>(m), low_half(v), vshift);
      const __m512d hi = _mm512_maskz_sub_pd(static_cast<__mmask8>(m >> 8), high_half(v), vshift);
      s1[slot] = _mm512_add_pd(s1[slot], lo);
      s2[slot] = _mm512_fmadd_pd(lo, lo, s2[slot]);
      s1[slot + 1] = _mm512_add_pd(s1[slot + 1], hi);
      s2[slot + 1] = _mm512_fmadd_pd(hi, hi, s2[slot + 1]);
      slot ^= 2;
    }
  }
  sum1 = total(s1);
  sum2 = total(s2);
#elif defined(__AVX2__)
  AlternatingSums sums;
  const __m256d vshift = _mm256_set1_pd(shift);
  const int64_t whole = l & ~int64_t{7};
  const __m256i tail = tail_mask(l - whole);
  // The tail's dead lanes would add -shift: masked to 0 after the subtraction.
  const __m256d tail_lo = low_lanes(tail), tail_hi = high_lanes(tail);
  for (int64_t i = 0; i < images; ++i) {
    const float* p = x + i * stride;
    for (int64_t k = 0; k < whole; k += 8) {
      const __m256 v = _mm256_loadu_ps(p + k);
      const __m256d lo = _mm256_sub_pd(low_half(v), vshift),
                    hi = _mm256_sub_pd(high_half(v), vshift);
      sums.add(lo, hi, lo, hi);
    }
    if (whole < l) {
      const __m256 v = _mm256_maskload_ps(p + whole, tail);
      const __m256d lo = _mm256_and_pd(_mm256_sub_pd(low_half(v), vshift), tail_lo);
      const __m256d hi = _mm256_and_pd(_mm256_sub_pd(high_half(v), vshift), tail_hi);
      sums.add(lo, hi, lo, hi);
    }
  }
  sums.finish(sum1, sum2);
#else
  double a = 0.0, b = 0.0;
  for (int64_t i = 0; i < images; ++i) {
    for (int64_t k = 0; k < l; ++k) {
      const double d = static_cast<double>(x[i * stride + k]) - shift;
      a += d;
      b += d * d;
    }
  }
  sum1 = a;
  sum2 = b;
#endif
}

// Sums of g and g (x - mean) likewise, with g = dy, or with kRelu g = dy where y > 0 else 0
// (the gradient through a ReLU applied to this batch norm's output y).
template <bool kRelu>
void grad_sums(const float* x, const float* y, const float* dy, int64_t images, int64_t stride,
               int64_t l, double mean, double& sum1, double& sum2) {
#if defined(__AVX512F__)
  __m512d s1[4], s2[4];
  for (int j = 0; j < 4; ++j) s1[j] = s2[j] = _mm512_setzero_pd();
  const __m512d vmean = _mm512_set1_pd(mean);
  int slot = 0;
  for (int64_t i = 0; i < images; ++i) {
    const int64_t at = i * stride;
    for (int64_t k = 0; k < l; k += 16) {
      __mmask16 m = tail_mask(l - k);
      if constexpr (kRelu) {
        m = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, y + at + k), _mm512_setzero_ps(),
                                    _CMP_GT_OQ);
      }
      const __m512 g = _mm512_maskz_loadu_ps(m, dy + at + k);
      const __m512 v = _mm512_maskz_loadu_ps(m, x + at + k);
      const __m512d glo = low_half(g), ghi = high_half(g);
      const __m512d dlo = _mm512_sub_pd(low_half(v), vmean);
      const __m512d dhi = _mm512_sub_pd(high_half(v), vmean);
      s1[slot] = _mm512_add_pd(s1[slot], glo);
      s2[slot] = _mm512_fmadd_pd(glo, dlo, s2[slot]);
      s1[slot + 1] = _mm512_add_pd(s1[slot + 1], ghi);
      s2[slot + 1] = _mm512_fmadd_pd(ghi, dhi, s2[slot + 1]);
      slot ^= 2;
    }
  }
  sum1 = total(s1);
  sum2 = total(s2);
#elif defined(__AVX2__)
  AlternatingSums sums;
  const __m256d vmean = _mm256_set1_pd(mean);
  const int64_t whole = l & ~int64_t{7};
  const __m256i tail = tail_mask(l - whole);
  // A dead lane of the tail has g = 0 and adds nothing (its x - mean is multiplied by 0).
  auto add = [&](__m256 g, __m256 v) {
    sums.add(low_half(g), high_half(g), _mm256_sub_pd(low_half(v), vmean),
             _mm256_sub_pd(high_half(v), vmean));
  };
  for (int64_t i = 0; i < images; ++i) {
    const int64_t at = i * stride;
    for (int64_t k = 0; k < whole; k += 8) {
      __m256 g = _mm256_loadu_ps(dy + at + k);
      if constexpr (kRelu) g = pass_positive(_mm256_loadu_ps(y + at + k), g);
      add(g, _mm256_loadu_ps(x + at + k));
    }
    if (whole < l) {
      __m256 g = _mm256_maskload_ps(dy + at + whole, tail);
      if constexpr (kRelu) g = pass_positive(_mm256_maskload_ps(y + at + whole, tail), g);
      add(g, _mm256_maskload_ps(x + at + whole, tail));
    }
  }
  sums.finish(sum1, sum2);
#else
  double a = 0.0, b = 0.0;
  for (int64_t i = 0; i < images; ++i) {
    for (int64_t k = 0; k < l; ++k) {
      const int64_t at = i * stride + k;
      const double g = kRelu ? relu_pass(y[at], dy[at]) : dy[at];
      a += g;
      b += g * (static_cast<double>(x[at]) - mean);
    }
  }
  sum1 = a;
  sum2 = b;
#endif
}

// y = (x - m) a + b over one plane of l values, then max(y, 0) with kRelu.
template <bool kRelu>
void normalize_plane(const float* x, float* y, int64_t l, float m, float a, float b) {
#if defined(__AVX512F__)
  const __m512 vm = _mm512_set1_ps(m), va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
  for (int64_t k = 0; k < l; k += 16) {
    const __mmask16 live = tail_mask(l - k);
    __m512 v = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(live, x + k), vm), va, vb);
    if constexpr (kRelu) v = _mm512_max_ps(v, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(y + k, live, v);
  }
#elif defined(__AVX2__)
  const __m256 vm = _mm256_set1_ps(m), va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  // max(v, 0) is v > 0 ? v : 0, relu_forward's result bit for bit.
  auto value = [&](__m256 v) {
    v = _mm256_fmadd_ps(_mm256_sub_ps(v, vm), va, vb);
    return kRelu ? _mm256_max_ps(v, _mm256_setzero_ps()) : v;
  };
  int64_t k = 0;
  for (; k + 8 <= l; k += 8) _mm256_storeu_ps(y + k, value(_mm256_loadu_ps(x + k)));
  if (k < l) {
    store_first(y + k, value(_mm256_maskload_ps(x + k, tail_mask(l - k))), l - k);
  }
#else
  for (int64_t k = 0; k < l; ++k) {
    const float v = (x[k] - m) * a + b;
    y[k] = kRelu ? (v > 0.0f ? v : 0.0f) : v;
  }
#endif
}

// dx = p g + q (x - m) + r over one plane, with g as in grad_sums.
template <bool kRelu>
void grad_plane(const float* x, const float* y, const float* dy, float* dx, int64_t l, float m,
                float p, float q, float r) {
#if defined(__AVX512F__)
  const __m512 vm = _mm512_set1_ps(m), vp = _mm512_set1_ps(p), vq = _mm512_set1_ps(q),
               vr = _mm512_set1_ps(r);
  for (int64_t k = 0; k < l; k += 16) {
    const __mmask16 live = tail_mask(l - k);
    __mmask16 pass = live;
    if constexpr (kRelu) {
      pass = _mm512_mask_cmp_ps_mask(live, _mm512_maskz_loadu_ps(live, y + k), _mm512_setzero_ps(),
                                     _CMP_GT_OQ);
    }
    const __m512 g = _mm512_maskz_loadu_ps(pass, dy + k);
    const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(live, x + k), vm);
    // The same association as the scalar form: (p g + q d) + r.
    const __m512 v = _mm512_add_ps(_mm512_fmadd_ps(vq, d, _mm512_mul_ps(vp, g)), vr);
    _mm512_mask_storeu_ps(dx + k, live, v);
  }
#elif defined(__AVX2__)
  const __m256 vm = _mm256_set1_ps(m), vp = _mm256_set1_ps(p), vq = _mm256_set1_ps(q),
               vr = _mm256_set1_ps(r);
  // The association of the AVX-512 form: (p g + q d) + r.
  auto value = [&](__m256 g, __m256 v) {
    return _mm256_add_ps(_mm256_fmadd_ps(vq, _mm256_sub_ps(v, vm), _mm256_mul_ps(vp, g)), vr);
  };
  int64_t k = 0;
  for (; k + 8 <= l; k += 8) {
    __m256 g = _mm256_loadu_ps(dy + k);
    if constexpr (kRelu) g = pass_positive(_mm256_loadu_ps(y + k), g);
    _mm256_storeu_ps(dx + k, value(g, _mm256_loadu_ps(x + k)));
  }
  if (k < l) {
    const __m256i live = tail_mask(l - k);
    __m256 g = _mm256_maskload_ps(dy + k, live);
    if constexpr (kRelu) g = pass_positive(_mm256_maskload_ps(y + k, live), g);
    store_first(dx + k, value(g, _mm256_maskload_ps(x + k, live)), l - k);
  }
#else
  for (int64_t k = 0; k < l; ++k) {
    const float g = kRelu ? relu_pass(y[k], dy[k]) : dy[k];
    dx[k] = p * g + q * (x[k] - m) + r;
  }
#endif
}

// Threads for a 2d pass over `numel` values: one below the size where a fork/join pays.
int bn_threads(int64_t numel, int64_t chunks) {
  if (numel < kMinParallel) return 1;
  return static_cast<int>(std::clamp<int64_t>(num_threads(), 1, chunks));
}

// The training forward pass of the 2d layout (see above): one parallel region with one barrier.
// After it every thread adds up the chunks' sums of all channels itself (a few thousand adds, in
// the same order in every thread) rather than waiting at a second barrier for a shared table;
// the thread that owns a channel writes its outputs.
template <bool kRelu>
void train_2d(const float* xp, const float* gp, const float* bp, float* rmp, float* rvp,
              float momentum, float eps, float* yp, float* smp, float* sip, int64_t n, int64_t c,
              int64_t l) {
  const int64_t per_chunk = images_per_chunk(n), chunks = (n + per_chunk - 1) / per_chunk;
  const double count = static_cast<double>(n * l), unbias = count / (count - 1.0);
  // Per (chunk, channel) the two sums.
  auto* sums = reinterpret_cast<double*>(
      scratch(ScratchSlot::partial, static_cast<size_t>(chunks * c * 4)));
  const int threads = bn_threads(n * c * l, chunks);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const Range mine = split(chunks, t, team);
    for (int64_t k = mine.begin; k < mine.end; ++k) {
      const int64_t i0 = k * per_chunk, images = std::min(n, i0 + per_chunk) - i0;
      for (int64_t ch = 0; ch < c; ++ch) {
        // Shifting by a sample of the channel keeps Σd² - (Σd)²/M from cancelling even when
        // |mean| >> std (plain E[x²] - E[x]² would).
        stat_sums(xp + (i0 * c + ch) * l, images, c * l, l, xp[ch * l], sums[(k * c + ch) * 2],
                  sums[(k * c + ch) * 2 + 1]);
      }
    }
#pragma omp barrier
    // This thread's m, a and b per channel (its own scratch: nothing shared is written here).
    float* coef = scratch(ScratchSlot::output, static_cast<size_t>(3 * c));
    const Range channels = split(c, t, team);
    for (int64_t ch = 0; ch < c; ++ch) {
      double s1 = 0.0, s2 = 0.0;
      for (int64_t k = 0; k < chunks; ++k) {
        s1 += sums[(k * c + ch) * 2];
        s2 += sums[(k * c + ch) * 2 + 1];
      }
      const double mean = xp[ch * l] + s1 / count;
      const double var = std::max(0.0, (s2 - s1 * s1 / count) / count);
      const double invstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
      const float mean_f = static_cast<float>(mean), invstd_f = static_cast<float>(invstd);
      if (ch >= channels.begin && ch < channels.end) {
        smp[ch] = mean_f;
        sip[ch] = invstd_f;
        rmp[ch] = static_cast<float>((1.0 - momentum) * rmp[ch] + momentum * mean);
        rvp[ch] = static_cast<float>((1.0 - momentum) * rvp[ch] + momentum * var * unbias);
      }
      coef[3 * ch] = mean_f;
      coef[3 * ch + 1] = gp[ch] * invstd_f;
      coef[3 * ch + 2] = bp[ch];
    }
    // Centred rather than folding m into b, which would cancel in float when |mean| >> std.
    for (int64_t i = std::min(n, mine.begin * per_chunk); i < std::min(n, mine.end * per_chunk);
         ++i) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t at = (i * c + ch) * l;
        normalize_plane<kRelu>(xp + at, yp + at, l, coef[3 * ch], coef[3 * ch + 1],
                               coef[3 * ch + 2]);
      }
    }
  }
}

// The backward pass of the 2d layout, split like train_2d (one barrier). With kRelu, y is the
// output of the fused forward pass and dy the gradient of that ReLU's output.
//    dbeta = Σ g, dgamma = Σ g x̂, dx = gamma invstd (g - dbeta/M - x̂ dgamma/M), folded into
//    dx = p g + q (x - mean) + r per channel (centred, like the forward pass).
template <bool kRelu>
void backward_2d(const float* xp, const float* yp, const float* gp, const float* mp,
                 const float* ip, const float* dyp, float* dxp, float* dgp, float* dbp, int64_t n,
                 int64_t c, int64_t l) {
  const int64_t per_chunk = images_per_chunk(n), chunks = (n + per_chunk - 1) / per_chunk;
  const double count = static_cast<double>(n * l);
  auto* sums = reinterpret_cast<double*>(
      scratch(ScratchSlot::partial, static_cast<size_t>(chunks * c * 4)));
  const int threads = bn_threads(n * c * l, chunks);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const Range mine = split(chunks, t, team);
    for (int64_t k = mine.begin; k < mine.end; ++k) {
      const int64_t i0 = k * per_chunk, images = std::min(n, i0 + per_chunk) - i0;
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t at = (i0 * c + ch) * l;
        grad_sums<kRelu>(xp + at, kRelu ? yp + at : nullptr, dyp + at, images, c * l, l, mp[ch],
                         sums[(k * c + ch) * 2], sums[(k * c + ch) * 2 + 1]);
      }
    }
#pragma omp barrier
    float* coef = scratch(ScratchSlot::output, static_cast<size_t>(4 * c));
    const Range channels = split(c, t, team);
    for (int64_t ch = 0; ch < c; ++ch) {
      double sdy = 0.0, sdyx = 0.0;
      for (int64_t k = 0; k < chunks; ++k) {
        sdy += sums[(k * c + ch) * 2];
        sdyx += sums[(k * c + ch) * 2 + 1];
      }
      const double invstd = ip[ch];
      const double dg = sdyx * invstd;
      if (ch >= channels.begin && ch < channels.end) {
        dbp[ch] = static_cast<float>(sdy);
        dgp[ch] = static_cast<float>(dg);
      }
      const double a = gp[ch] * invstd;
      coef[4 * ch] = mp[ch];
      coef[4 * ch + 1] = static_cast<float>(a);
      coef[4 * ch + 2] = static_cast<float>(-a * invstd * dg / count);
      coef[4 * ch + 3] = static_cast<float>(-a * sdy / count);
    }
    for (int64_t i = std::min(n, mine.begin * per_chunk); i < std::min(n, mine.end * per_chunk);
         ++i) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t at = (i * c + ch) * l;
        const float* k = coef + 4 * ch;
        grad_plane<kRelu>(xp + at, kRelu ? yp + at : nullptr, dyp + at, dxp + at, l, k[0], k[1],
                          k[2], k[3]);
      }
    }
  }
}

}  // namespace

// x: (N, C, H, W) or (N, C); gamma, beta, running_mean, running_var: (C)
// -> y like x; save_mean, save_invstd: (C)
void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                              Tensor& running_mean, Tensor& running_var, float momentum, float eps,
                              Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  const BnDims d = bn_dims(x);
  y.ensure(x.shape(), Device::cpu);
  ensure_output(save_mean, {d.c});
  ensure_output(save_invstd, {d.c});

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
    train_2d<false>(xp, gp, bp, rmp, rvp, momentum, eps, yp, smp, sip, n, c, l);
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
  const BnDims d = bn_dims(x);
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
  const BnDims d = bn_dims(x);
  dx.ensure(x.shape(), Device::cpu);
  ensure_output(dgamma, {d.c});
  ensure_output(dbeta, {d.c});
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
    backward_2d<false>(xp, nullptr, gp, mp, ip, dyp, dxp, dgp, dbp, n, c, l);
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

// As batch_norm_forward_train, then y = max(y, 0). The 2d layout applies the ReLU in its
// normalising pass; the 1d layout (a classifier head, small) runs the two steps.
void batch_norm_relu_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                   Tensor& running_mean, Tensor& running_var, float momentum,
                                   float eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  const BnDims d = bn_dims(x);
  if (d.l == 1) {
    KEEL_CPU_ISA::batch_norm_forward_train(x, gamma, beta, running_mean, running_var, momentum, eps, y,
                                  save_mean, save_invstd);
    KEEL_CPU_ISA::relu_forward(y, y);
    return;
  }
  y.ensure(x.shape(), Device::cpu);
  ensure_output(save_mean, {d.c});
  ensure_output(save_invstd, {d.c});
  train_2d<true>(x.data(), gamma.data(), beta.data(), running_mean.data(), running_var.data(),
                 momentum, eps, y.data(), save_mean.data(), save_invstd.data(), d.n, d.c, d.l);
}

// x, y (the fused forward output), dy: like x -> dx like x, dgamma, dbeta: (C). The 2d layout
// masks dy by y > 0 inside both of its passes; the 1d layout masks into dx first.
void batch_norm_relu_backward(const Tensor& x, const Tensor& y, const Tensor& gamma,
                              const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dy,
                              Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  const BnDims d = bn_dims(x);
  if (d.l == 1) {
    KEEL_CPU_ISA::relu_backward(y, dy, dx);
    KEEL_CPU_ISA::batch_norm_backward(x, gamma, save_mean, save_invstd, dx, dx, dgamma, dbeta);
    return;
  }
  dx.ensure(x.shape(), Device::cpu);
  ensure_output(dgamma, {d.c});
  ensure_output(dbeta, {d.c});
  backward_2d<true>(x.data(), y.data(), gamma.data(), save_mean.data(), save_invstd.data(),
                    dy.data(), dx.data(), dgamma.data(), dbeta.data(), d.n, d.c, d.l);
}

}  // namespace keel::cpu::KEEL_CPU_ISA
