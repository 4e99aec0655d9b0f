// The mixed-precision ops on the CPU: round_to_precision against the scalar conversions of
// keel/half.h (themselves checked exhaustively in tests/core/half_test.cpp), and the loss scaler's
// ops against the rule of keel/loss_scaler.h applied by hand. CTest runs these on every CPU path.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "keel/half.h"
#include "keel/ops.h"
#include "keel/random.h"
#include "support/test_util.h"

namespace keel {
namespace {

// Values spread over every binade from below half's subnormals to past its overflow (and past
// bfloat16's too), both signs, with zeros, infinities and NaNs: 4099 of them, so the vector
// paths' tails are used.
std::vector<float> wide_values() {
  std::vector<float> v;
  Generator gen(41);
  for (int i = 0; i < 4096; ++i) {
    const float mantissa = 1.0f + static_cast<float>(gen.next_below(1u << 23)) / 8388608.0f;
    const int exponent = static_cast<int>(gen.next_below(300)) - 150;
    const float sign = gen.next_below(2) ? -1.0f : 1.0f;
    v.push_back(sign * std::ldexp(mantissa, exponent));
  }
  v.push_back(-0.0f);
  v.push_back(std::numeric_limits<float>::infinity());
  v.push_back(std::numeric_limits<float>::quiet_NaN());
  return v;
}

uint32_t bits(float x) {
  return std::bit_cast<uint32_t>(x);
}

void expect_rounds_like_the_scalar(Precision precision, float (*scalar)(float)) {
  const std::vector<float> values = wide_values();
  const Tensor x = Tensor::from_data({static_cast<int64_t>(values.size())}, values);
  Tensor y;
  round_to_precision(x, precision, y);
  const std::vector<float> got = y.to_vector();
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(bits(got[i]), bits(scalar(values[i])))
        << precision_name(precision) << " of " << values[i] << " (element " << i << ")";
  }
  Tensor in_place = x.clone();
  round_to_precision(in_place, precision, in_place);
  const std::vector<float> in_place_values = in_place.to_vector();
  for (size_t i = 0; i < values.size(); ++i)
    ASSERT_EQ(bits(in_place_values[i]), bits(got[i])) << "in place, element " << i;
}

TEST(RoundToPrecision, HalfMatchesTheScalarConversion) {
  expect_rounds_like_the_scalar(Precision::fp16, round_to_half);
}

TEST(RoundToPrecision, Bfloat16MatchesTheScalarConversion) {
  expect_rounds_like_the_scalar(Precision::bf16, round_to_bfloat16);
}

TEST(RoundToPrecision, Fp32CopiesUnchanged) {
  const Tensor x = testing::random_tensor(Shape{3, 5, 7}, 3);
  Tensor y;
  round_to_precision(x, Precision::fp32, y);
  EXPECT_EQ(y.shape(), x.shape());
  EXPECT_EQ(y.to_vector(), x.to_vector());
}

TEST(RoundToPrecision, LargeTensorsSplitOverThreadsGiveTheSameBits) {
  const Tensor x = testing::random_tensor(Shape{1 << 18}, 4, -70000.0f, 70000.0f);
  Tensor y;
  round_to_precision(x, Precision::fp16, y);
  const std::vector<float> in = x.to_vector(), out = y.to_vector();
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(bits(out[i]), bits(round_to_half(in[i])));
}

Tensor state_tensor(const LossScaleState& s) {
  return Tensor::from_data({kLossScaleStateFloats}, loss_scale_floats(s));
}
LossScaleState state_of(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  return loss_scale_state({v[0], v[1], v[2], v[3]});
}

TEST(LossScaleOps, ApplyMultipliesByTheScale) {
  LossScaleState s;
  s.scale = 1024.0f;
  const Tensor state = state_tensor(s);
  const Tensor x = testing::random_tensor(Shape{4, 33}, 5);
  Tensor y;
  apply_loss_scale(x, state, y);
  const std::vector<float> in = x.to_vector(), out = y.to_vector();
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(out[i], in[i] * 1024.0f);
}

TEST(LossScaleOps, UnscaleDividesAndFlagsAnyNonFiniteValue) {
  LossScaleState s;
  s.scale = 4096.0f;
  Tensor state = state_tensor(s);
  Tensor grad = testing::random_tensor(Shape{1000}, 6);
  const std::vector<float> before = grad.to_vector();
  unscale_gradients(grad, state);
  const std::vector<float> after = grad.to_vector();
  for (size_t i = 0; i < before.size(); ++i) ASSERT_EQ(after[i], before[i] / 4096.0f);
  EXPECT_EQ(state_of(state).found_inf, 0.0f);

  for (float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    Tensor fresh = state_tensor(s);
    Tensor poisoned = testing::random_tensor(Shape{1000}, 7);
    poisoned.data()[997] = bad;  // past the vector body: the tail is checked too
    unscale_gradients(poisoned, fresh);
    EXPECT_EQ(state_of(fresh).found_inf, 1.0f) << bad;
    Tensor clean = testing::random_tensor(Shape{10}, 8);
    unscale_gradients(clean, fresh);
    EXPECT_EQ(state_of(fresh).found_inf, 1.0f) << "a later finite tensor must not clear the flag";
  }
  Tensor huge = Tensor::from_data({2}, std::vector<float>{3e38f, -3e38f});
  Tensor fresh = state_tensor(s);
  unscale_gradients(huge, fresh);
  EXPECT_EQ(state_of(fresh).found_inf, 0.0f) << "large finite values are no overflow";
}

TEST(LossScaleOps, UpdateFollowsTheRule) {
  const LossScaleRule rule;
  LossScaleState s;
  s.scale = 512.0f;
  s.growth_tracker = 7.0f;
  s.found_inf = 1.0f;
  s.skipped_steps = 2.0f;
  Tensor state = state_tensor(s);
  loss_scale_update(state, rule);
  update_loss_scale(s, rule);
  const LossScaleState got = state_of(state);
  EXPECT_EQ(got.scale, s.scale);
  EXPECT_EQ(got.scale, 256.0f);
  EXPECT_EQ(got.growth_tracker, 0.0f);
  EXPECT_EQ(got.found_inf, 0.0f);
  EXPECT_EQ(got.skipped_steps, 3.0f);
}

}  // namespace
}  // namespace keel
