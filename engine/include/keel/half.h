// IEEE binary16 (half) and bfloat16 as 16-bit patterns: conversion from float32 with
// round-to-nearest-even, and back to float32 exactly; one value at a time or whole arrays.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

namespace keel {

// NaN in gives a quiet NaN out, with its sign and the top bits of its payload, in all four
// directions: F16C and CUDA quieten NaNs, so the plain code does too and every path agrees bit
// for bit. The narrowing conversions round to nearest, ties to even, whatever the FPU's rounding
// mode: values past the largest finite one round to ±Inf (half: |x| >= 65520), values below the
// smallest subnormal to ±0 (half: |x| <= 2^-25), and zeros keep their sign.

inline constexpr uint16_t kHalfMaxFinite = 0x7bffu;      // 65504
inline constexpr uint16_t kBfloat16MaxFinite = 0x7f7fu;  // 3.3895e38

inline uint16_t float_to_half(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) {  // NaN: quiet bit set, top 9 payload bits kept
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  }
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520, Inf
  if (magnitude >= 0x38800000u) {  // a normal half (>= 2^-14): rebias 127 -> 15, drop 13 bits
    uint32_t rebiased = magnitude - 0x38000000u;
    rebiased += 0x0fffu + ((rebiased >> 13) & 1u);
    return static_cast<uint16_t>(sign | (rebiased >> 13));
  }
  // A half subnormal counts units of 2^-24: the float's significand shifted right by
  // 126 - exponent, rounded to even on the bits shifted out.
  const uint32_t exponent = magnitude >> 23;
  const uint32_t shift = 126u - exponent;
  if (exponent == 0 || shift > 24) return sign;  // below 2^-25, or exactly it (a tie to even 0)
  const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
  const uint32_t units = significand >> shift;
  const uint32_t rest = significand & ((1u << shift) - 1u);
  const uint32_t half_unit = 1u << (shift - 1u);
  const bool round_up = rest > half_unit || (rest == half_unit && (units & 1u));
  return static_cast<uint16_t>(sign | (units + (round_up ? 1u : 0u)));
}

inline float half_to_float(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t magnitude = half & 0x7fffu;
  if (magnitude >= 0x7c00u) {  // Inf, or NaN made quiet
    const uint32_t quiet = magnitude > 0x7c00u ? 0x400000u : 0u;
    return std::bit_cast<float>(sign | 0x7f800000u | quiet | ((magnitude & 0x3ffu) << 13));
  }
  // Placing the 15 bits under a float's exponent field reads the half as a float 2^112 times too
  // small; the exact multiplication by 2^112 also turns half subnormals into normal floats.
  const float scaled = std::bit_cast<float>(magnitude << 13) * 0x1p112f;
  return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(scaled));
}

// bfloat16 is the upper half of a float32: rounding adds just under half of the dropped part,
// plus the kept part's lowest bit (ties to even); a carry into the exponent is the right result,
// up to Inf past the largest finite value.
inline uint16_t float_to_bfloat16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

inline float bfloat16_to_float(uint16_t value) {
  const bool nan = (value & 0x7fffu) > 0x7f80u;
  return std::bit_cast<float>((static_cast<uint32_t>(value) | (nan ? 0x40u : 0u)) << 16);
}

// The float nearest to `value` that the format holds (ties to even); NaN stays NaN.
inline float round_to_half(float value) {
  return half_to_float(float_to_half(value));
}
inline float round_to_bfloat16(float value) {
  return bfloat16_to_float(float_to_bfloat16(value));
}

// Whole arrays, bit for bit the functions above, on the active CPU path (keel::cpu_isa(): F16C on
// avx2 and avx512, AVX-512 integer code for bfloat16 there). dst.size() must equal src.size()
// (keel::Error otherwise).
void floats_to_halves(std::span<const float> src, std::span<uint16_t> dst);
void halves_to_floats(std::span<const uint16_t> src, std::span<float> dst);
void floats_to_bfloat16s(std::span<const float> src, std::span<uint16_t> dst);
void bfloat16s_to_floats(std::span<const uint16_t> src, std::span<float> dst);

}  // namespace keel
