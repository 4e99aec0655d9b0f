// What the Trainer allocates once its first epoch has run: only the probabilities each evaluation
// returns. Evaluations (at another batch size than training) and last partial batches resize the
// model's, the loss's and the input's buffers within their allocations, which on a GPU keeps a
// captured training step valid from one epoch to the next (tests/gpu/captured_step_test.cpp).
#include <gtest/gtest.h>

#include "keel/tensor.h"
#include "support/trainer_run.h"

namespace keel {
namespace {

void expect_one_allocation_per_epoch_after_the_first(const testing::TrainedModel& run) {
  ASSERT_EQ(run.history.size(), run.allocations_per_epoch.size());
  ASSERT_GE(run.allocations_per_epoch.size(), 3u);
  for (size_t e = 1; e < run.allocations_per_epoch.size(); ++e) {
    // The (N, K) probabilities Trainer::evaluate returns, on the CPU.
    EXPECT_EQ(run.allocations_per_epoch[e], 1u) << "epoch " << e + 1;
  }
}

TEST(TrainerBuffers, EvaluationSmallerThanABatch) {
  Config c = testing::small_training_config();  // batches of 64, 40 validation images
  c.train.epochs = 4;
  expect_one_allocation_per_epoch_after_the_first(testing::train_synthetic(c, Device::cpu));
}

TEST(TrainerBuffers, EvaluationLargerThanABatchAndPartialBatches) {
  Config c = testing::small_training_config();
  c.train.epochs = 4;
  c.train.batch_size = 36;  // 192 training images: 5 batches of 36 and one of 12; 40 to validate
  c.train.drop_last = false;
  expect_one_allocation_per_epoch_after_the_first(testing::train_synthetic(c, Device::cpu));
}

// Without evaluation nothing at all is allocated once the step that a GPU run captures has run:
// the epoch-end checks (the non-finite guard's sums) have their buffers from the start, or their
// first use would make the captured step stale at the second epoch.
TEST(TrainerBuffers, NothingAfterTheCapturedStepWithoutEvaluation) {
  Config c = testing::small_training_config();
  c.train.epochs = 4;
  c.train.val_fraction = 0.0;
  EXPECT_EQ(testing::train_synthetic(c, Device::cpu).allocations_after_second_step, 0u);
}

}  // namespace
}  // namespace keel
