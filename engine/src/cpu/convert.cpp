// Array conversions between float32 and half / bfloat16 (cpu/convert_api.inc), and the op that
// rounds a tensor to one of those formats. The x86 variants convert halves with F16C (vcvtps2ph
// rounds to nearest even and quietens NaNs as keel/half.h does) and bfloat16 with integer
// arithmetic on whole vectors; the scalar functions of keel/half.h finish the tails and are the
// portable path.
#include <algorithm>
#include <array>

#include "common/check.h"
#include "cpu/cpu_ops.h"
#include "cpu/parallel.h"
#include "cpu/simd.h"
#include "keel/half.h"

namespace keel::cpu::KEEL_CPU_ISA {

namespace convert {

namespace {

#if defined(__AVX512F__)
constexpr int64_t kLanes = 16;

// float32 bits -> bfloat16 bits in the low half of each lane (see float_to_bfloat16).
__m512i bfloat16_bits(__m512i bits) {
  const __m512i magnitude = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(magnitude, _mm512_set1_epi32(0x7f800000));
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff)));
  const __m512i quiet = _mm512_or_si512(bits, _mm512_set1_epi32(0x400000));
  return _mm512_srli_epi32(_mm512_mask_blend_epi32(nan, rounded, quiet), 16);
}

// bfloat16 bits (zero-extended) -> float32 bits, NaNs made quiet.
__m512i bfloat16_float_bits(__m512i wide) {
  const __m512i magnitude = _mm512_and_si512(wide, _mm512_set1_epi32(0x7fff));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(magnitude, _mm512_set1_epi32(0x7f80));
  const __m512i quiet = _mm512_mask_or_epi32(wide, nan, wide, _mm512_set1_epi32(0x40));
  return _mm512_slli_epi32(quiet, 16);
}
#elif defined(__AVX2__)
constexpr int64_t kLanes = 8;
#else
constexpr int64_t kLanes = 1;
#endif

}  // namespace

void floats_to_halves(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + kLanes <= n; i += kLanes) {
    const __m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), h);
  }
#elif defined(__AVX2__)
  for (; i + kLanes <= n; i += kLanes) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
#endif
  for (; i < n; ++i) dst[i] = float_to_half(src[i]);
}

void halves_to_floats(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + kLanes <= n; i += kLanes) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h));
  }
#elif defined(__AVX2__)
  for (; i + kLanes <= n; i += kLanes) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
#endif
  for (; i < n; ++i) dst[i] = half_to_float(src[i]);
}

void floats_to_bfloat16s(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + kLanes <= n; i += kLanes) {
    const __m512i bits = _mm512_castps_si512(_mm512_loadu_ps(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm512_cvtepi32_epi16(bfloat16_bits(bits)));
  }
#endif
  // The AVX2 and portable variants: the compiler vectorises this branch-free scalar code.
  for (; i < n; ++i) dst[i] = float_to_bfloat16(src[i]);
}

void bfloat16s_to_floats(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + kLanes <= n; i += kLanes) {
    const __m256i narrow = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m512i wide = _mm512_cvtepu16_epi32(narrow);
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(bfloat16_float_bits(wide)));
  }
#endif
  for (; i < n; ++i) dst[i] = bfloat16_to_float(src[i]);
}

}  // namespace convert

namespace {
// Below this many elements a fork/join costs more than the conversion.
constexpr int64_t kMinParallel = 1 << 16;
// Rounds through a stack buffer of 16-bit values, so the result is the array conversions' there
// and back by construction.
constexpr int64_t kBlock = 512;

void round_range(const float* x, float* y, int64_t n, Precision precision) {
  std::array<uint16_t, kBlock> narrow;
  for (int64_t begin = 0; begin < n; begin += kBlock) {
    const int64_t count = std::min(kBlock, n - begin);
    if (precision == Precision::fp16) {
      convert::floats_to_halves(x + begin, narrow.data(), count);
      convert::halves_to_floats(narrow.data(), y + begin, count);
    } else {
      convert::floats_to_bfloat16s(x + begin, narrow.data(), count);
      convert::bfloat16s_to_floats(narrow.data(), y + begin, count);
    }
  }
}
}  // namespace

// x: any shape -> y: same shape, each value rounded to `precision`; y may be x.
void round_to_precision(const Tensor& x, Precision precision, Tensor& y) {
  KEEL_CHECK(x.defined() && x.device() == Device::cpu, "round_to_precision: x is not a CPU tensor");
  y.ensure(x.shape(), Device::cpu);
  const float* xp = x.data();
  float* yp = y.data();
  const int64_t n = x.numel();
  if (precision == Precision::fp32) {
    if (yp != xp) std::copy(xp, xp + n, yp);
    return;
  }
  for_shares(n, n >= kMinParallel, [&](int64_t begin, int64_t end) {
    round_range(xp + begin, yp + begin, end - begin, precision);
  });
}

}  // namespace keel::cpu::KEEL_CPU_ISA
