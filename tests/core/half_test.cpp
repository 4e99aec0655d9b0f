// keel/half.h against references written from the formats' definitions: every half and bfloat16
// pattern decoded with ldexp, and floats rounded by walking the sorted list of representable values
// with their midpoints in double arithmetic: every sign, exponent and rounding tie, and every float
// that rounds to a half subnormal (all 2^32 floats: the disabled tests, minutes long). Each CPU
// path this machine has is forced in turn and must give the reference's bits exactly.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/half.h"
#include "keel/random.h"
#include "keel/runtime.h"
#include "support/cpu_settings_guard.h"

namespace keel {
namespace {

// The format's values as the definition gives them.
struct Format {
  const char* name;
  int mantissa_bits;  // 10 (half), 7 (bfloat16)
  int exponent_bias;  // 15, 127
  int exponent_max;   // all-ones exponent field: 31, 255
};
constexpr Format kHalf{"half", 10, 15, 31};
constexpr Format kBfloat16{"bfloat16", 7, 127, 255};

// The value of a non-negative, non-NaN pattern; the first Inf pattern reads as the power of two
// after the largest finite value, which is where IEEE rounding puts the overflow threshold.
double value_of(const Format& f, uint32_t code) {
  const uint32_t mantissa = code & ((1u << f.mantissa_bits) - 1u);
  const int exponent = static_cast<int>(code >> f.mantissa_bits);
  if (exponent == 0) return std::ldexp(mantissa, 1 - f.exponent_bias - f.mantissa_bits);
  return std::ldexp((1u << f.mantissa_bits) + mantissa,
                    exponent - f.exponent_bias - f.mantissa_bits);
}

uint16_t to_format(const Format& f, float x) {
  return f.mantissa_bits == 10 ? float_to_half(x) : float_to_bfloat16(x);
}
float from_format(const Format& f, uint16_t code) {
  return f.mantissa_bits == 10 ? half_to_float(code) : bfloat16_to_float(code);
}
uint32_t infinity_code(const Format& f) {
  return static_cast<uint32_t>(f.exponent_max) << f.mantissa_bits;
}

// Round to nearest, ties to even, of increasing non-negative floats: the code only ever moves up,
// past each midpoint that x exceeds (or meets, when the upper neighbour is even).
class RoundingWalk {
 public:
  explicit RoundingWalk(const Format& f) : f_(f), inf_(infinity_code(f)) {}
  uint16_t next(double x) {
    while (code_ < inf_) {
      const double mid = (value_of(f_, code_) + value_of(f_, code_ + 1)) / 2;  // exact
      const bool up = x > mid || (x == mid && (code_ + 1) % 2 == 0);
      if (!up) break;
      ++code_;
    }
    return static_cast<uint16_t>(code_);
  }

 private:
  Format f_;
  uint32_t inf_;
  uint32_t code_ = 0;
};

// A NaN keeps its sign and the payload's top bits, and comes out quiet.
uint16_t quiet_nan_code(const Format& f, uint32_t float_bits) {
  const int dropped = 23 - f.mantissa_bits;
  const uint32_t payload = (float_bits & 0x7fffffu) >> dropped;
  const uint32_t quiet = 1u << (f.mantissa_bits - 1);
  const uint32_t sign = (float_bits >> 31) << 15;
  return static_cast<uint16_t>(sign | infinity_code(f) | quiet | payload);
}

std::vector<CpuIsa> supported_paths() {
  std::vector<CpuIsa> paths;
  for (CpuIsa isa : {CpuIsa::portable, CpuIsa::avx2, CpuIsa::avx512}) {
    if (cpu_isa_supported(isa)) paths.push_back(isa);
  }
  return paths;
}

void to_format_bulk(const Format& f, const std::vector<float>& src, std::vector<uint16_t>& dst) {
  if (f.mantissa_bits == 10)
    floats_to_halves(src, dst);
  else
    floats_to_bfloat16s(src, dst);
}
void from_format_bulk(const Format& f, const std::vector<uint16_t>& src, std::vector<float>& dst) {
  if (f.mantissa_bits == 10)
    halves_to_floats(src, dst);
  else
    bfloat16s_to_floats(src, dst);
}

// Every 16-bit pattern to float: the definition's value with the pattern's sign; NaNs quiet.
void expect_every_pattern_decodes(const Format& f) {
  std::vector<uint16_t> codes(65536);
  for (uint32_t c = 0; c < 65536; ++c) codes[c] = static_cast<uint16_t>(c);
  const testing::CpuSettingsGuard guard;
  for (CpuIsa isa : supported_paths()) {
    set_cpu_isa(isa);
    std::vector<float> bulk(65536);
    from_format_bulk(f, codes, bulk);
    for (uint32_t c = 0; c < 65536; ++c) {
      const uint32_t magnitude = c & 0x7fffu;
      const bool negative = (c & 0x8000u) != 0;
      const uint32_t got = std::bit_cast<uint32_t>(bulk[c]);
      ASSERT_EQ(got, std::bit_cast<uint32_t>(from_format(f, codes[c])))
          << f.name << " pattern " << c << " on " << cpu_isa_name(isa);
      if (magnitude > infinity_code(f)) {
        const uint32_t expected_nan =
            (negative ? 0x80000000u : 0u) | 0x7fc00000u |
            ((magnitude & ((1u << f.mantissa_bits) - 1u)) << (23 - f.mantissa_bits));
        ASSERT_EQ(got, expected_nan) << f.name << " NaN pattern " << c;
        continue;
      }
      const double value = magnitude == infinity_code(f) ? std::numeric_limits<double>::infinity()
                                                         : value_of(f, magnitude);
      const auto expected = static_cast<float>(negative ? -value : value);  // exact
      ASSERT_EQ(got, std::bit_cast<uint32_t>(expected)) << f.name << " pattern " << c;
    }
  }
}

// Every pattern to float and back is the same pattern (NaNs: the same, made quiet).
void expect_every_pattern_round_trips(const Format& f) {
  for (uint32_t c = 0; c < 65536; ++c) {
    const auto code = static_cast<uint16_t>(c);
    const bool nan = (c & 0x7fffu) > infinity_code(f);
    const uint16_t expected = nan ? static_cast<uint16_t>(c | (1u << (f.mantissa_bits - 1))) : code;
    ASSERT_EQ(to_format(f, from_format(f, code)), expected) << f.name << " pattern " << c;
  }
}

// The low 16 bits of the floats checked for each upper half: for each of the 8 values of bits
// 13..15 (half keeps bit 13 and drops 0..12), the patterns just below, at and just above the tie
// and the extremes, so every half tie is met with both parities and every bfloat16 tie (bit 15
// dropped, bit 16 from the upper half) too; plus random ones. Sorted, so the floats ascend.
std::vector<uint32_t> boundary_lows(Generator& gen) {
  std::vector<uint32_t> lows;
  for (uint32_t top = 0; top < 8; ++top) {
    for (uint32_t offset : {0x0000u, 0x0001u, 0x0fffu, 0x1000u, 0x1001u, 0x1fffu})
      lows.push_back(top << 13 | offset);
  }
  for (int i = 0; i < 8; ++i) lows.push_back(static_cast<uint32_t>(gen.next_below(0x10000)));
  std::sort(lows.begin(), lows.end());
  lows.erase(std::unique(lows.begin(), lows.end()), lows.end());
  return lows;
}

// Floats that round to half subnormals or to the smallest normals (exponent fields 101..113)
// drop 14 to 25 bits, so their ties sit outside the boundary lows: every one of them is checked.
bool every_low_checked(const Format& f, uint32_t high) {
  const uint32_t exponent = (high >> 7) & 0xffu;
  return f.mantissa_bits == 10 && exponent >= 101 && exponent <= 113;
}

// Positive floats in ascending order: for each upper half (sign clear), all lower halves or the
// boundary ones. Expected codes come from the walk (NaNs from quiet_nan_code), negatives are the
// same floats with the sign bit, and every CPU path must give exactly those codes.
void expect_floats_round(const Format& f) {
  const std::vector<CpuIsa> paths = supported_paths();
  const testing::CpuSettingsGuard guard;
  Generator gen(7);
  RoundingWalk walk(f);
  std::vector<float> positive, negative;
  std::vector<uint16_t> expected, got;
  for (uint32_t high = 0; high < 0x8000u; ++high) {
    std::vector<uint32_t> lows = boundary_lows(gen);
    if (every_low_checked(f, high)) {
      lows.resize(0x10000);
      for (uint32_t low = 0; low < 0x10000u; ++low) lows[low] = low;
    }
    positive.resize(lows.size());
    negative.resize(lows.size());
    expected.resize(lows.size());
    got.resize(lows.size());
    for (size_t i = 0; i < lows.size(); ++i) {
      const uint32_t bits = high << 16 | lows[i];
      positive[i] = std::bit_cast<float>(bits);
      negative[i] = std::bit_cast<float>(bits | 0x80000000u);
      expected[i] = bits > 0x7f800000u ? quiet_nan_code(f, bits)
                                       : walk.next(static_cast<double>(positive[i]));
    }
    for (CpuIsa isa : paths) {
      set_cpu_isa(isa);
      to_format_bulk(f, positive, got);
      for (size_t i = 0; i < lows.size(); ++i) {
        ASSERT_EQ(got[i], expected[i]) << f.name << " of float bits " << std::hex
                                       << (high << 16 | lows[i]) << " on " << cpu_isa_name(isa);
      }
      to_format_bulk(f, negative, got);
      for (size_t i = 0; i < lows.size(); ++i) {
        ASSERT_EQ(got[i], expected[i] | 0x8000u)
            << f.name << " of float bits " << std::hex << (high << 16 | lows[i]) << " negated on "
            << cpu_isa_name(isa);
      }
    }
  }
}

// Every one of the 2^32 floats, the same way: about three minutes for both formats on three
// paths, so it is run by hand (--gtest_also_run_disabled_tests --gtest_filter='*AllFloats*').
void expect_all_floats_round(const Format& f) {
  constexpr uint32_t kChunk = 1u << 20;
  const testing::CpuSettingsGuard guard;
  RoundingWalk walk(f);
  std::vector<float> positive(kChunk), negative(kChunk);
  std::vector<uint16_t> expected(kChunk), got(kChunk);
  for (uint32_t first = 0; first < 0x80000000u; first += kChunk) {
    for (uint32_t i = 0; i < kChunk; ++i) {
      const uint32_t bits = first + i;
      positive[i] = std::bit_cast<float>(bits);
      negative[i] = std::bit_cast<float>(bits | 0x80000000u);
      expected[i] = bits > 0x7f800000u ? quiet_nan_code(f, bits)
                                       : walk.next(static_cast<double>(positive[i]));
    }
    for (CpuIsa isa : supported_paths()) {
      set_cpu_isa(isa);
      to_format_bulk(f, positive, got);
      for (uint32_t i = 0; i < kChunk; ++i) ASSERT_EQ(got[i], expected[i]) << std::hex << first + i;
      to_format_bulk(f, negative, got);
      for (uint32_t i = 0; i < kChunk; ++i)
        ASSERT_EQ(got[i], expected[i] | 0x8000u) << std::hex << (first + i) << " negated";
    }
  }
}

TEST(Half, EveryPatternDecodesToItsDefinedValueOnEveryPath) {
  expect_every_pattern_decodes(kHalf);
}
TEST(Bfloat16, EveryPatternDecodesToItsDefinedValueOnEveryPath) {
  expect_every_pattern_decodes(kBfloat16);
}
TEST(Half, EveryPatternRoundTrips) {
  expect_every_pattern_round_trips(kHalf);
}
TEST(Bfloat16, EveryPatternRoundTrips) {
  expect_every_pattern_round_trips(kBfloat16);
}
TEST(Half, FloatsRoundToNearestEvenOnEveryPath) {
  expect_floats_round(kHalf);
}
TEST(Bfloat16, FloatsRoundToNearestEvenOnEveryPath) {
  expect_floats_round(kBfloat16);
}
TEST(Half, DISABLED_AllFloatsRoundToNearestEvenOnEveryPath) {
  expect_all_floats_round(kHalf);
}
TEST(Bfloat16, DISABLED_AllFloatsRoundToNearestEvenOnEveryPath) {
  expect_all_floats_round(kBfloat16);
}

// The boundaries spelled out, so a failure of the exhaustive tests has a readable neighbour.
TEST(Half, Boundaries) {
  EXPECT_EQ(float_to_half(65504.0f), 0x7bffu);                        // largest finite
  EXPECT_EQ(float_to_half(std::nextafter(65520.0f, 0.0f)), 0x7bffu);  // below the midpoint
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00u);                        // tie: even is Inf
  EXPECT_EQ(float_to_half(-1e30f), 0xfc00u);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001u);  // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000u);  // tie: even is 0
  EXPECT_EQ(float_to_half(std::ldexp(1.5f, -25)), 0x0001u);
  EXPECT_EQ(float_to_half(std::ldexp(1.5f, -24)), 0x0002u);  // tie: even is 2
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -14)), 0x0400u);  // smallest normal
  EXPECT_EQ(float_to_half(-0.0f), 0x8000u);
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00u);       // tie: even is 1
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(3.0f, -11)), 0x3c02u);       // tie: even is up
  EXPECT_EQ(float_to_half(std::bit_cast<float>(0x7f800001u)), 0x7e00u);  // signalling NaN
  EXPECT_EQ(float_to_half(-std::numeric_limits<float>::infinity()), 0xfc00u);
  EXPECT_TRUE(std::isnan(half_to_float(0x7c01u)));
}

TEST(Bfloat16, Boundaries) {
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x7f7fffffu)), 0x7f80u);  // FLT_MAX: Inf
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x7f7f7fffu)), 0x7f7fu);
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x3f808000u)), 0x3f80u);  // tie: even down
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x3f818000u)), 0x3f82u);  // tie: even up
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x00008000u)), 0x0000u);  // subnormal tie
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x00018000u)), 0x0002u);
  EXPECT_EQ(float_to_bfloat16(-0.0f), 0x8000u);
  // Truncating a signalling NaN whose payload sits in the dropped bits would give Inf.
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x7f800001u)), 0x7fc0u);
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0xff800001u)), 0xffc0u);
}

TEST(HalfArrays, RefuseMismatchedSizes) {
  std::vector<float> src(4);
  std::vector<uint16_t> dst(3);
  EXPECT_THROW(floats_to_halves(src, dst), Error);
  EXPECT_THROW(floats_to_bfloat16s(src, dst), Error);
}

}  // namespace
}  // namespace keel
