// The CUDA-graph switch where no graph can be made: a CPU run with cuda_graph on trains exactly as
// without it, and CapturedStep says why it cannot capture instead of failing later. (With a GPU,
// tests/gpu/captured_step_test.cpp checks the graphs themselves.)
#include <gtest/gtest.h>

#include "keel/captured_step.h"
#include "keel/error.h"
#include "keel/runtime.h"
#include "support/trainer_run.h"

namespace keel {
namespace {

TEST(CudaGraphSwitch, CpuTrainingIgnoresIt) {
  Config c = testing::small_training_config();
  c.train.epochs = 2;
  c.cuda_graph = false;
  const testing::TrainedModel plain = testing::train_synthetic(c, Device::cpu);
  c.cuda_graph = true;
  const testing::TrainedModel switched = testing::train_synthetic(c, Device::cpu);
  EXPECT_EQ(switched.graph_captures, 0);
  EXPECT_EQ(plain.weights, switched.weights);
  ASSERT_EQ(plain.history.size(), 2u);
  ASSERT_EQ(switched.history.size(), 2u);
  EXPECT_EQ(plain.history[1].train_loss, switched.history[1].train_loss);
}

TEST(CapturedStep, WithoutADeviceSaysWhyAndRunsNothing) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is present: tests/gpu/captured_step_test.cpp covers capture";
  CapturedStep step;
  bool ran = false;
  EXPECT_FALSE(step.capture([&] { ran = true; }));
  EXPECT_FALSE(ran);
  EXPECT_EQ(step.failure(), cuda_built() ? "no CUDA device is present" : "keel was built without CUDA");
  EXPECT_FALSE(step.current());
  EXPECT_EQ(step.captures(), 0);
  EXPECT_THROW(step.replay({}), Error);
}

}  // namespace
}  // namespace keel
