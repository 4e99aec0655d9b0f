// The array conversions of keel/half.h: checked here once, converted by the active CPU path.
#include "keel/half.h"

#include <fmt/format.h>

#include "cpu/isa.h"
#include "keel/error.h"

namespace keel {

namespace {
void expect_same_size(const char* what, size_t src, size_t dst) {
  if (src == dst) return;
  throw Error(
      ErrorKind::usage,
      fmt::format("{}: {} values in, room for {} out; give dst the size of src", what, src, dst));
}
int64_t count(size_t n) {
  return static_cast<int64_t>(n);
}
}  // namespace

void floats_to_halves(std::span<const float> src, std::span<uint16_t> dst) {
  expect_same_size("floats_to_halves", src.size(), dst.size());
  KEEL_ON_CPU(convert::floats_to_halves(src.data(), dst.data(), count(src.size())));
}

void halves_to_floats(std::span<const uint16_t> src, std::span<float> dst) {
  expect_same_size("halves_to_floats", src.size(), dst.size());
  KEEL_ON_CPU(convert::halves_to_floats(src.data(), dst.data(), count(src.size())));
}

void floats_to_bfloat16s(std::span<const float> src, std::span<uint16_t> dst) {
  expect_same_size("floats_to_bfloat16s", src.size(), dst.size());
  KEEL_ON_CPU(convert::floats_to_bfloat16s(src.data(), dst.data(), count(src.size())));
}

void bfloat16s_to_floats(std::span<const uint16_t> src, std::span<float> dst) {
  expect_same_size("bfloat16s_to_floats", src.size(), dst.size());
  KEEL_ON_CPU(convert::bfloat16s_to_floats(src.data(), dst.data(), count(src.size())));
}

}  // namespace keel
