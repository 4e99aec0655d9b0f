// The loss scaler's update rule (keel/loss_scaler.h), the one the CPU and the CUDA kernel both run:
// PyTorch GradScaler's defaults, growth after the interval, backoff and skip counting on overflow,
// and the bounds.
#include <gtest/gtest.h>

#include "keel/loss_scaler.h"

namespace keel {
namespace {

// `clean` steps without an overflow.
void clean_steps(LossScaleState& s, const LossScaleRule& rule, int clean) {
  for (int i = 0; i < clean; ++i) update_loss_scale(s, rule);
}
void overflow_step(LossScaleState& s, const LossScaleRule& rule) {
  s.found_inf = 1.0f;
  update_loss_scale(s, rule);
}

TEST(LossScaler, DefaultsAreGradScalers) {
  const LossScaleRule rule;
  const LossScaleState state;
  EXPECT_EQ(state.scale, 65536.0f);
  EXPECT_EQ(rule.growth_factor, 2.0f);
  EXPECT_EQ(rule.backoff_factor, 0.5f);
  EXPECT_EQ(rule.growth_interval, 2000);
  EXPECT_EQ(state.growth_tracker, 0.0f);
  EXPECT_EQ(state.skipped_steps, 0.0f);
}

TEST(LossScaler, GrowsAfterTheIntervalOfCleanSteps) {
  const LossScaleRule rule;
  LossScaleState s;
  clean_steps(s, rule, 1999);
  EXPECT_EQ(s.scale, 65536.0f);
  EXPECT_EQ(s.growth_tracker, 1999.0f);
  clean_steps(s, rule, 1);
  EXPECT_EQ(s.scale, 131072.0f);
  EXPECT_EQ(s.growth_tracker, 0.0f);
  clean_steps(s, rule, 2000);
  EXPECT_EQ(s.scale, 262144.0f);
  EXPECT_EQ(s.skipped_steps, 0.0f);
}

TEST(LossScaler, OverflowBacksOffCountsTheSkipAndRestartsTheInterval) {
  const LossScaleRule rule;
  LossScaleState s;
  clean_steps(s, rule, 1500);
  overflow_step(s, rule);
  EXPECT_EQ(s.scale, 32768.0f);
  EXPECT_EQ(s.growth_tracker, 0.0f);
  EXPECT_EQ(s.skipped_steps, 1.0f);
  EXPECT_EQ(s.found_inf, 0.0f) << "the flag is cleared for the next step";
  clean_steps(s, rule, 1999);  // the 1500 clean steps before the overflow no longer count
  EXPECT_EQ(s.scale, 32768.0f);
  clean_steps(s, rule, 1);
  EXPECT_EQ(s.scale, 65536.0f);
  overflow_step(s, rule);
  overflow_step(s, rule);
  EXPECT_EQ(s.scale, 16384.0f);
  EXPECT_EQ(s.skipped_steps, 3.0f);
}

TEST(LossScaler, NeverBacksOffBelowTheMinimum) {
  LossScaleRule rule;
  rule.min_scale = 4.0f;
  LossScaleState s;
  s.scale = 16.0f;
  for (int i = 0; i < 5; ++i) overflow_step(s, rule);
  EXPECT_EQ(s.scale, 4.0f);
  EXPECT_EQ(s.skipped_steps, 5.0f) << "steps at the minimum are still skipped and counted";
  const LossScaleRule defaults;
  LossScaleState t;
  for (int i = 0; i < 40; ++i) overflow_step(t, defaults);
  EXPECT_EQ(t.scale, 1.0f);
}

TEST(LossScaler, NeverGrowsAboveTheMaximum) {
  LossScaleRule rule;
  rule.growth_interval = 1;
  LossScaleState s;
  clean_steps(s, rule, 100);  // 2^16 doubled a hundred times would pass float's range
  EXPECT_EQ(s.scale, 16777216.0f);
  rule.max_scale = 100000.0f;
  LossScaleState t;
  clean_steps(t, rule, 3);
  EXPECT_EQ(t.scale, 100000.0f) << "a maximum that is not a power of two is reached exactly";
}

TEST(LossScaler, CustomFactorsAndInterval) {
  LossScaleRule rule;
  rule.growth_factor = 4.0f;
  rule.backoff_factor = 0.25f;
  rule.growth_interval = 3;
  LossScaleState s;
  s.scale = 1024.0f;
  clean_steps(s, rule, 3);
  EXPECT_EQ(s.scale, 4096.0f);
  clean_steps(s, rule, 2);
  overflow_step(s, rule);
  EXPECT_EQ(s.scale, 1024.0f);
  EXPECT_EQ(s.growth_tracker, 0.0f);
  EXPECT_EQ(s.skipped_steps, 1.0f);
}

}  // namespace
}  // namespace keel
