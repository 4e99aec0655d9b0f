// Conversions from the narrower and wider float formats of weight files to float32: IEEE half
// (F16), bfloat16 (BF16) and double (F64), bit-exact where float32 can hold the value.
#pragma once

#include <bit>
#include <cstdint>

namespace keel::io::detail {

// IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits. Subnormals, infinities and NaNs
// included, since an exported checkpoint may hold any of them.
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0)
    return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0) return std::bit_cast<float>(sign);
  // Subnormal half: shift the mantissa up until its leading one is the implicit bit.
  int32_t e = 113;
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --e;
  }
  return std::bit_cast<float>(sign | (static_cast<uint32_t>(e) << 23) |
                              ((mantissa & 0x3ffu) << 13));
}

// bfloat16 is the upper half of a float32.
inline float bfloat16_to_float(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

}  // namespace keel::io::detail
