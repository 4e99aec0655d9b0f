// CPU inverted dropout. The mask comes from Philox counters exactly as op_list.inc states, so the
// CUDA kernel reproduces it bit for bit and the result does not depend on the thread count.
#include <algorithm>
#include <cstring>

#include "common/check.h"
#include "common/philox.h"
#include "cpu/simd.h"
#include "cpu/cpu_ops.h"
#include "cpu/parallel.h"
#include "keel/random.h"

namespace keel::cpu::KEEL_CPU_ISA {

namespace {
// Below this many elements a fork/join costs more than the work.
constexpr int64_t kMinParallel = 1 << 14;

#if defined(__AVX512F__)
// Sixteen Philox4x32-10 draws at once, for counters base + [0, 16), lane l holding counter
// base + l: the same rounds as philox::draw, bit for bit. The scalar draw, with two 32x32->64
// multiplies per round that the compiler did not vectorise, cost ~30 ns per counter, more than
// the 128-wide dropout's whole matrix product.
struct Words16 {
  __m512i w[4];
};

// hi and lo 32-bit halves of a · m per lane: even lanes from one 32x32->64 multiply, odd lanes
// from a second on the operand shifted down.
inline void mulhilo16(__m512i a, __m512i m, __m512i& lo, __m512i& hi) {
  const __m512i even = _mm512_mul_epu32(a, m);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

Words16 draw16(uint64_t seed, uint64_t base) {
  const __m512i step = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i first = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(base)), step);
  const __m512i second = _mm512_add_epi64(first, _mm512_set1_epi64(8));
  auto halves = [](__m256i low8, __m256i high8) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(low8), high8, 1);
  };
  __m512i c0 = halves(_mm512_cvtepi64_epi32(first), _mm512_cvtepi64_epi32(second));
  __m512i c1 = halves(_mm512_cvtepi64_epi32(_mm512_srli_epi64(first, 32)),
                      _mm512_cvtepi64_epi32(_mm512_srli_epi64(second, 32)));
  __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int round = 0; round < 10; ++round) {
    __m512i lo0, hi0, lo1, hi1;
    mulhilo16(c0, m0, lo0, hi0);
    mulhilo16(c2, m1, lo1, hi1);
    const __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1),
                                        _mm512_set1_epi32(static_cast<int>(k0)));
    const __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3),
                                        _mm512_set1_epi32(static_cast<int>(k1)));
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Words16{{c0, c1, c2, c3}};
}

// Masks of 64 consecutive elements, 4 · (counter − base) + word, from sixteen draws: per word
// the keep/drop decision of philox::to_uniform(word) >= p, then a 4 × 16 interleave.
void masks64(const Words16& words, float p, float keep_scale, __m512 out[4]) {
  __m512 m[4];
  for (int j = 0; j < 4; ++j) {
    const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(words.w[j], 8)),
                                   _mm512_set1_ps(1.0f / 16777216.0f));
    m[j] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(u, _mm512_set1_ps(p), _CMP_GE_OQ),
                               _mm512_set1_ps(keep_scale));
  }
  // Per 128-bit lane L, u_i holds the four words of counter 4L + i.
  const __m512 t0 = _mm512_unpacklo_ps(m[0], m[1]), t1 = _mm512_unpackhi_ps(m[0], m[1]);
  const __m512 t2 = _mm512_unpacklo_ps(m[2], m[3]), t3 = _mm512_unpackhi_ps(m[2], m[3]);
  const __m512 u0 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
  const __m512 u1 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
  const __m512 u2 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
  const __m512 u3 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
  // Output vector V takes lane V of u0..u3: a 4 × 4 transpose of 128-bit lanes.
  const __m512 a = _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(1, 0, 1, 0));
  const __m512 b = _mm512_shuffle_f32x4(u2, u3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m512 c = _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(3, 2, 3, 2));
  const __m512 d = _mm512_shuffle_f32x4(u2, u3, _MM_SHUFFLE(3, 2, 3, 2));
  out[0] = _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  out[1] = _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  out[2] = _mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(2, 0, 2, 0));
  out[3] = _mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(3, 1, 3, 1));
}
#elif defined(__AVX2__)
// The AVX2 form of the same: sixteen Philox4x32-10 draws at once, as two vectors of eight
// counters (lane l of half h holds counter base + 8h + l) whose rounds interleave, so one half's
// multiplies run while the other's wait on their latency; bit for bit philox::draw.
struct Words16 {
  __m256i w[2][4];  // [half][word]
};

// hi and lo 32-bit halves of a · m per lane: _mm256_mul_epu32 multiplies the even lanes 32x32->64;
// the odd ones take a second multiply on the operand shifted down (m is a broadcast constant).
inline void mulhilo8(__m256i a, __m256i m, __m256i& lo, __m256i& hi) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// The low and high 32-bit words of the eight 64-bit counters first + [0, 8), one vector each.
inline void counter_words(uint64_t first, __m256i& low, __m256i& high) {
  const __m256i base = _mm256_set1_epi64x(static_cast<long long>(first));
  const __m256 a = _mm256_castsi256_ps(_mm256_add_epi64(base, _mm256_setr_epi64x(0, 1, 2, 3)));
  const __m256 b = _mm256_castsi256_ps(_mm256_add_epi64(base, _mm256_setr_epi64x(4, 5, 6, 7)));
  // [a0 a1 b0 b1 | a2 a3 b2 b3] by the in-lane shuffle, then the 64-bit permute orders a before b.
  auto ordered = [](__m256 v) {
    return _mm256_permute4x64_epi64(_mm256_castps_si256(v), _MM_SHUFFLE(3, 1, 2, 0));
  };
  low = ordered(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
  high = ordered(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
}

Words16 draw16(uint64_t seed, uint64_t base) {
  __m256i c0[2], c1[2], c2[2], c3[2];
  for (int h = 0; h < 2; ++h) {
    counter_words(base + 8 * static_cast<uint64_t>(h), c0[h], c1[h]);
    c2[h] = c3[h] = _mm256_setzero_si256();
  }
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int round = 0; round < 10; ++round) {
    const __m256i key0 = _mm256_set1_epi32(static_cast<int>(k0));
    const __m256i key1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (int h = 0; h < 2; ++h) {
      __m256i lo0, hi0, lo1, hi1;
      mulhilo8(c0[h], m0, lo0, hi0);
      mulhilo8(c2[h], m1, lo1, hi1);
      c0[h] = _mm256_xor_si256(_mm256_xor_si256(hi1, c1[h]), key0);
      c2[h] = _mm256_xor_si256(_mm256_xor_si256(hi0, c3[h]), key1);
      c1[h] = lo1;
      c3[h] = lo0;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  Words16 out;
  for (int h = 0; h < 2; ++h) {
    out.w[h][0] = c0[h];
    out.w[h][1] = c1[h];
    out.w[h][2] = c2[h];
    out.w[h][3] = c3[h];
  }
  return out;
}

// Masks of the 32 consecutive elements 4 · (counter − first) + word of one half's eight draws:
// per word the keep/drop decision of philox::to_uniform(word) >= p, then a 4 × 8 interleave.
void masks32(const __m256i words[4], float p, float keep_scale, __m256 out[4]) {
  __m256 m[4];
  for (int j = 0; j < 4; ++j) {
    const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(words[j], 8)),
                                   _mm256_set1_ps(1.0f / 16777216.0f));
    m[j] =
        _mm256_and_ps(_mm256_cmp_ps(u, _mm256_set1_ps(p), _CMP_GE_OQ), _mm256_set1_ps(keep_scale));
  }
  // Per 128-bit lane L, u_i holds the four words of counter 4L + i.
  const __m256 t0 = _mm256_unpacklo_ps(m[0], m[1]), t1 = _mm256_unpackhi_ps(m[0], m[1]);
  const __m256 t2 = _mm256_unpacklo_ps(m[2], m[3]), t3 = _mm256_unpackhi_ps(m[2], m[3]);
  auto pairs = [](__m256 a, __m256 b, bool high) {
    return _mm256_castpd_ps(high ? _mm256_unpackhi_pd(_mm256_castps_pd(a), _mm256_castps_pd(b))
                                 : _mm256_unpacklo_pd(_mm256_castps_pd(a), _mm256_castps_pd(b)));
  };
  const __m256 u0 = pairs(t0, t2, false), u1 = pairs(t0, t2, true);
  const __m256 u2 = pairs(t1, t3, false), u3 = pairs(t1, t3, true);
  // Output vector V holds counters 2V and 2V + 1.
  out[0] = _mm256_permute2f128_ps(u0, u1, 0x20);
  out[1] = _mm256_permute2f128_ps(u2, u3, 0x20);
  out[2] = _mm256_permute2f128_ps(u0, u1, 0x31);
  out[3] = _mm256_permute2f128_ps(u2, u3, 0x31);
}
#endif
}  // namespace

// x: any shape -> y, mask: same shape. Element i keeps when to_uniform(word i%4 of
// philox::draw(seed, base + i/4)) >= p, with base = gen.reserve(ceil(numel/4)); mask = keep/(1-p).
void dropout_forward(const Tensor& x, float p, Generator& gen, Tensor& y, Tensor& mask) {
  KEEL_CHECK(x.defined() && x.device() == Device::cpu, "dropout_forward: x must be a CPU tensor");
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
  // Whole groups of four elements (one counter each); the partial last group after them.
  const int64_t full = n / 4;
  int64_t first = 0;  // first group left to the scalar loop
#if defined(__AVX512F__)
  // Sixteen groups (64 elements) per draw16.
  const int64_t blocks = full / 16;
  for_shares(blocks, n >= kMinParallel, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      __m512 m[4];
      masks64(draw16(seed, base + static_cast<uint64_t>(blk * 16)), p, keep_scale, m);
      for (int v = 0; v < 4; ++v) {
        const int64_t i = blk * 64 + v * 16;
        _mm512_storeu_ps(mp + i, m[v]);
        _mm512_storeu_ps(yp + i, _mm512_mul_ps(_mm512_loadu_ps(xp + i), m[v]));
      }
    }
  });
  first = blocks * 16;
#elif defined(__AVX2__)
  // Sixteen groups (64 elements) per draw16, in two halves of 32.
  const int64_t blocks = full / 16;
  for_shares(blocks, n >= kMinParallel, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      const Words16 words = draw16(seed, base + static_cast<uint64_t>(blk * 16));
      for (int h = 0; h < 2; ++h) {
        __m256 m[4];
        masks32(words.w[h], p, keep_scale, m);
        for (int v = 0; v < 4; ++v) {
          const int64_t i = blk * 64 + h * 32 + v * 8;
          _mm256_storeu_ps(mp + i, m[v]);
          _mm256_storeu_ps(yp + i, _mm256_mul_ps(_mm256_loadu_ps(xp + i), m[v]));
        }
      }
    }
  });
  first = blocks * 16;
#endif
  for_shares(full - first, n - 4 * first >= kMinParallel, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t g = first + begin; g < first + end; ++g) {
      const philox::Words words = philox::draw(seed, base + static_cast<uint64_t>(g));
      apply(4 * g, words.w[0]);
      apply(4 * g + 1, words.w[1]);
      apply(4 * g + 2, words.w[2]);
      apply(4 * g + 3, words.w[3]);
    }
  });
  if (n % 4 != 0) {
    const philox::Words words = philox::draw(seed, base + static_cast<uint64_t>(full));
    for (int64_t i = 4 * full; i < n; ++i) apply(i, words.w[i % 4]);
  }
}

// dy, mask: same shape -> dx = dy * mask; dx may be dy
void dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) {
  KEEL_CHECK(dy.defined() && dy.device() == Device::cpu,
             "dropout_backward: dy must be a CPU tensor");
  dx.ensure(dy.shape(), Device::cpu);
  const float* gp = dy.data();
  const float* mp = mask.data();
  float* dp = dx.data();
  const int64_t n = dy.numel();
  for_shares(n, n >= kMinParallel, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) dp[i] = gp[i] * mp[i];
  });
}

}  // namespace keel::cpu::KEEL_CPU_ISA
