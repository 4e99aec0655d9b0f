// The mixed-precision ops on the CUDA device against the CPU ops (the oracle, checked exhaustively
// in tests/core/half_test.cpp): rounding to half and bfloat16 through the hardware's conversions,
// bit for bit over every sign, exponent and rounding boundary; the loss scaler's ops step by step;
// and the scaler inside a captured CUDA graph, whose replays must follow the rule as the scale
// changes in device memory.
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "keel/captured_step.h"
#include "keel/loss_scaler.h"
#include "keel/ops.h"
#include "keel/random.h"
#include "support/test_util.h"

namespace keel {
namespace {

// For every upper half of a float (sign, exponent, top mantissa bits), the lower halves where the
// roundings to half (13 dropped bits) and bfloat16 (16 dropped bits) change: just below, at and
// just above each tie, the extremes, and a few random ones.
std::vector<float> boundary_floats() {
  const uint32_t lows[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x2001,
                           0x3000, 0x7fff, 0x8000, 0x8001, 0x9000, 0xc000, 0xefff, 0xffff};
  Generator gen(51);
  std::vector<float> out;
  for (uint32_t high = 0; high < 0x10000u; ++high) {
    for (uint32_t low : lows) out.push_back(std::bit_cast<float>(high << 16 | low));
    out.push_back(
        std::bit_cast<float>(high << 16 | static_cast<uint32_t>(gen.next_below(0x10000))));
  }
  return out;
}

void expect_same_rounding(Precision precision) {
  const std::vector<float> values = boundary_floats();
  const Tensor x = Tensor::from_data({static_cast<int64_t>(values.size())}, values);
  Tensor cpu_y, gpu_y;
  round_to_precision(x, precision, cpu_y);
  round_to_precision(x.to(Device::cuda), precision, gpu_y);
  const std::vector<float> cpu = cpu_y.to_vector(), gpu = gpu_y.to_vector();
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) {
      // CUDA gives one canonical NaN; the CPU keeps sign and payload. Both stay NaN.
      ASSERT_TRUE(std::isnan(gpu[i])) << std::hex << std::bit_cast<uint32_t>(values[i]);
      continue;
    }
    ASSERT_EQ(std::bit_cast<uint32_t>(gpu[i]), std::bit_cast<uint32_t>(cpu[i]))
        << precision_name(precision) << " of float bits " << std::hex
        << std::bit_cast<uint32_t>(values[i]);
  }
}

TEST(MixedPrecisionParity, RoundToHalfMatchesTheCpu) {
  KEEL_REQUIRE_CUDA();
  expect_same_rounding(Precision::fp16);
}

TEST(MixedPrecisionParity, RoundToBfloat16MatchesTheCpu) {
  KEEL_REQUIRE_CUDA();
  expect_same_rounding(Precision::bf16);
}

Tensor state_tensor(const LossScaleState& s, Device device) {
  return Tensor::from_data({kLossScaleStateFloats}, loss_scale_floats(s), device);
}

// Gradients of one step: random, with an Inf at `poisoned` (>= 0) to make the step overflow.
Tensor step_gradient(uint64_t seed, int64_t poisoned) {
  Tensor g = testing::random_tensor(Shape{3000}, seed, -50.0f, 50.0f);
  if (poisoned >= 0) g.data()[poisoned] = INFINITY;
  return g;
}

// Ten steps, three of them overflowing, an interval of 3: the state and the unscaled gradients
// agree bit for bit after every step.
TEST(MixedPrecisionParity, LossScalerStepsMatchTheCpu) {
  KEEL_REQUIRE_CUDA();
  LossScaleRule rule;
  rule.growth_interval = 3;
  LossScaleState start;
  start.scale = 1024.0f;
  Tensor cpu_state = state_tensor(start, Device::cpu);
  Tensor gpu_state = state_tensor(start, Device::cuda);
  const int64_t poison_at[] = {-1, 2999, -1, -1, -1, -1, 0, -1, 1500, -1};
  for (int step = 0; step < 10; ++step) {
    const Tensor grad = step_gradient(60 + step, poison_at[step]);
    Tensor cpu_grad = grad.clone(), gpu_grad = grad.to(Device::cuda);
    Tensor cpu_scaled, gpu_scaled;
    apply_loss_scale(grad, cpu_state, cpu_scaled);
    apply_loss_scale(grad.to(Device::cuda), gpu_state, gpu_scaled);
    EXPECT_EQ(gpu_scaled.to_vector(), cpu_scaled.to_vector()) << "step " << step;
    unscale_gradients(cpu_grad, cpu_state);
    unscale_gradients(gpu_grad, gpu_state);
    EXPECT_EQ(gpu_state.to_vector(), cpu_state.to_vector()) << "found_inf, step " << step;
    if (poison_at[step] < 0) {
      EXPECT_EQ(gpu_grad.to_vector(), cpu_grad.to_vector());
    }
    loss_scale_update(cpu_state, rule);
    loss_scale_update(gpu_state, rule);
    ASSERT_EQ(gpu_state.to_vector(), cpu_state.to_vector()) << "state after step " << step;
  }
  EXPECT_EQ(cpu_state.to_vector()[3], 3.0f) << "three overflowed steps counted";
}

// The scaler's device work captured once and replayed: each replay reads the scale the previous
// one left in device memory, so the sequence of states equals the rule applied step by step.
TEST(MixedPrecisionParity, LossScalerInsideACapturedGraphFollowsTheRule) {
  KEEL_REQUIRE_CUDA();
  LossScaleRule rule;
  rule.growth_interval = 2;
  LossScaleState expected;
  expected.scale = 256.0f;
  Tensor state = state_tensor(expected, Device::cuda);
  Tensor grad = step_gradient(70, -1).to(Device::cuda);
  Tensor dlogits = testing::random_tensor(Shape{64, 2}, 71).to(Device::cuda), scaled;
  const auto step = [&] {
    apply_loss_scale(dlogits, state, scaled);
    unscale_gradients(grad, state);
    loss_scale_update(state, rule);
  };
  step();  // eagerly first, so `scaled` exists before the capture
  update_loss_scale(expected, rule);
  ASSERT_EQ(state.to_vector()[0], expected.scale);
  CapturedStep graph;
  ASSERT_TRUE(graph.capture(step)) << graph.failure();
  const int64_t poison_at[] = {-1, -1, 17, -1, -1, -1, 2, 2, -1};
  for (int replay = 0; replay < 9; ++replay) {
    grad.copy_from(step_gradient(80 + replay, poison_at[replay]));  // same buffer, new values
    ASSERT_TRUE(graph.current());
    graph.replay({});
    expected.found_inf = poison_at[replay] >= 0 ? 1.0f : 0.0f;
    const float scale_used = expected.scale;
    update_loss_scale(expected, rule);
    const std::vector<float> got = state.to_vector();
    EXPECT_EQ(got[0], expected.scale) << "scale after replay " << replay;
    EXPECT_EQ(got[1], expected.growth_tracker) << "growth tracker after replay " << replay;
    EXPECT_EQ(got[2], 0.0f) << "found_inf cleared after replay " << replay;
    EXPECT_EQ(got[3], expected.skipped_steps) << "skips after replay " << replay;
    const std::vector<float> d = dlogits.to_vector(), s = scaled.to_vector();
    EXPECT_EQ(s[5], d[5] * scale_used) << "the replay read the live scale, replay " << replay;
  }
}

}  // namespace
}  // namespace keel
