// CUDA-graph capture of a training step (keel/captured_step.h, config key cuda_graph). A replay
// must give the same bits as launching each kernel, so every comparison here is exact: the live
// values (dropout counters, learning rate, momentum, Adam's step) are what make later replays differ
// from the captured step, and a wrong one shows up as a changed weight. Deterministic mode keeps
// the reductions free of atomics, so two eager runs are bit-identical to begin with.
#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "keel/captured_step.h"
#include "keel/ops.h"
#include "keel/runtime.h"
#include "support/trainer_run.h"

namespace keel {
namespace {

using namespace gpu_testing;
using testing::small_training_config;
using testing::train_synthetic;
using testing::TrainedModel;

void expect_same_training(const TrainedModel& eager, const TrainedModel& graphed) {
  ASSERT_EQ(eager.weights.size(), graphed.weights.size());
  for (size_t i = 0; i < eager.weights.size(); ++i) {
    EXPECT_EQ(eager.weights[i], graphed.weights[i]) << "parameter or buffer " << i;
  }
  ASSERT_EQ(eager.history.size(), graphed.history.size());
  for (size_t e = 0; e < eager.history.size(); ++e) {
    EXPECT_EQ(eager.history[e].train_loss, graphed.history[e].train_loss) << "epoch " << e + 1;
    if (!std::isnan(eager.history[e].val_loss)) {
      EXPECT_EQ(eager.history[e].val_loss, graphed.history[e].val_loss) << "epoch " << e + 1;
    }
  }
}

// After the first epoch no device tensor is allocated: evaluations and partial batches resize
// the buffers in place. Each allocation would make the captured step stale, so a failure here
// names the epoch whose evaluation or batches moved device memory.
void expect_no_device_allocation_after_the_first_epoch(const TrainedModel& run) {
  for (size_t e = 1; e < run.allocations_per_epoch.size(); ++e) {
    EXPECT_EQ(run.allocations_per_epoch[e], 0u) << "device tensors allocated in epoch " << e + 1;
  }
}

// `graphed_steps`: the steps the graph should perform, every full batch but the first (which runs
// eagerly); asserting it keeps a path that quietly turned itself off from passing as "same bits".
// Two captures: after the first step, and after the first evaluation allocated its label, loss and
// probability tensors; nothing later moves device memory.
void expect_graph_matches_eager(Config config, int64_t graphed_steps) {
  GpuSettingsGuard settings;
  set_deterministic(true);
  config.cuda_graph = false;
  const TrainedModel eager = train_synthetic(config, Device::cuda);
  config.cuda_graph = true;
  const TrainedModel graphed = train_synthetic(config, Device::cuda);
  EXPECT_EQ(eager.graph_captures, 0);
  EXPECT_EQ(graphed.graph_failure, "");
  EXPECT_EQ(graphed.graph_captures, 2);
  EXPECT_EQ(graphed.graph_replays, graphed_steps);
  EXPECT_EQ(graphed.steps, eager.steps);
  expect_no_device_allocation_after_the_first_epoch(graphed);
  expect_same_training(eager, graphed);
}

// The default config: 192 training images, 3 epochs of 3 full batches of 64.
constexpr int64_t kGraphedSteps = 3 * 3 - 1;

TEST(TrainerGraph, AdamWOneCycleDropoutSameBitsAsEager) {
  KEEL_REQUIRE_CUDA();
  expect_graph_matches_eager(small_training_config(), kGraphedSteps);
}

TEST(TrainerGraph, CudnnBackendSameBitsAsEager) {
  KEEL_REQUIRE_CUDA();
  if (!cudnn_built()) GTEST_SKIP() << "this keel build has no cuDNN backend";
  GpuSettingsGuard settings;
  set_gpu_backend(GpuBackend::cudnn);
  expect_graph_matches_eager(small_training_config(), kGraphedSteps);
}

TEST(TrainerGraph, SgdNesterovCosineSameBitsAsEager) {
  KEEL_REQUIRE_CUDA();
  Config c = small_training_config();
  c.optimizer.name = "sgd";
  c.optimizer.lr = 0.05;
  c.optimizer.momentum = 0.9;
  c.optimizer.nesterov = true;
  c.schedule.name = "cosine";
  expect_graph_matches_eager(c, kGraphedSteps);
}

TEST(TrainerGraph, PartialLastBatchRunsEagerlyAndMatches) {
  KEEL_REQUIRE_CUDA();
  Config c = small_training_config();
  c.train.drop_last = false;
  c.train.batch_size = 50;  // 192 training images: 3 full batches and one of 42 per epoch
  expect_graph_matches_eager(c, 3 * 3 - 1);
}

// Without an evaluation between epochs nothing reallocates device memory, so the one capture of
// the first epoch serves every later step.
TEST(TrainerGraph, OneCaptureServesEveryEpochWithoutEvaluation) {
  KEEL_REQUIRE_CUDA();
  Config c = small_training_config();
  c.train.val_fraction = 0.0;
  GpuSettingsGuard settings;
  set_deterministic(true);
  c.cuda_graph = true;
  const TrainedModel graphed = train_synthetic(c, Device::cuda);
  EXPECT_EQ(graphed.graph_captures, 1);
  EXPECT_EQ(graphed.graph_replays, kGraphedSteps);
  c.cuda_graph = false;
  expect_same_training(train_synthetic(c, Device::cuda), graphed);
}

// The first evaluation allocates its own tensors and may grow the model's buffers to its batch (a
// new capture follows); later ones resize the buffers within their allocations and allocate
// nothing, so the capture made after the first serves the rest.
TEST(TrainerGraph, EvaluationsAfterTheFirstKeepTheCapture) {
  KEEL_REQUIRE_CUDA();
  Config c = small_training_config();
  c.train.epochs = 4;
  c.cuda_graph = true;
  const TrainedModel graphed = train_synthetic(c, Device::cuda);
  EXPECT_EQ(graphed.history.size(), 4u);
  EXPECT_EQ(graphed.graph_failure, "");
  expect_no_device_allocation_after_the_first_epoch(graphed);
  EXPECT_EQ(graphed.graph_replays, 4 * 3 - 1);
  EXPECT_EQ(graphed.graph_captures, 2);
}

// As above with an evaluation larger than a training batch (titanic_train's small CNN: 178
// images, batches of 64): the first one grows the buffers, the rest fit.
TEST(TrainerGraph, LargerEvaluationsAfterTheFirstKeepTheCapture) {
  KEEL_REQUIRE_CUDA();
  Config c = small_training_config();
  c.train.epochs = 4;
  c.train.batch_size = 32;  // 192 training images: 6 batches; 40 to validate
  c.cuda_graph = true;
  const TrainedModel graphed = train_synthetic(c, Device::cuda);
  EXPECT_EQ(graphed.graph_failure, "");
  expect_no_device_allocation_after_the_first_epoch(graphed);
  EXPECT_EQ(graphed.graph_replays, 4 * 6 - 1);
  EXPECT_EQ(graphed.graph_captures, 2);
}

// The live values on their own: a captured dropout and AdamW update replayed with a later
// generator offset, learning rate, beta1 and step give what the eager ops give with those values.
TEST(CapturedStep, LiveValuesReachDropoutAndAdamW) {
  KEEL_REQUIRE_CUDA();
  const Shape shape{3, 37};
  const Tensor x = to_gpu(rand_cpu(shape, 71));
  const Tensor grad = to_gpu(rand_cpu(shape, 72));
  Tensor param = to_gpu(rand_cpu(shape, 73)), m = Tensor::zeros(shape, Device::cuda), v = Tensor::zeros(shape, Device::cuda);
  // Outputs exist before the capture, as after a real first step (see captured_step.h).
  Tensor y = Tensor::zeros(shape, Device::cuda), mask = Tensor::zeros(shape, Device::cuda);
  Generator gen(5);
  gen.set_state(5, 1000);
  AdamWArgs captured_args{1e-3f, 0.9f, 0.99f, 1e-8f, 0.01f, 1};
  CapturedStep step;
  ASSERT_TRUE(step.capture([&] {
    dropout_forward(x, 0.4f, gen, y, mask);
    adamw_update(param, grad, m, v, captured_args);
  })) << step.failure();
  const uint64_t reserved = gen.offset() - 1000;

  LiveStepValues live;
  live.dropout_shift = 3 * reserved;
  live.groups.push_back(LiveGroup{2e-3f, 0.85f, 0.99f, 4});
  step.replay(live);

  Tensor ref_param = to_gpu(rand_cpu(shape, 73)), ref_m = Tensor::zeros(shape, Device::cuda);
  Tensor ref_v = Tensor::zeros(shape, Device::cuda), ref_y, ref_mask;
  Generator ref_gen(5);
  ref_gen.set_state(5, 1000 + 3 * reserved);
  dropout_forward(x, 0.4f, ref_gen, ref_y, ref_mask);
  adamw_update(ref_param, grad, ref_m, ref_v, AdamWArgs{2e-3f, 0.85f, 0.99f, 1e-8f, 0.01f, 4});
  EXPECT_TRUE(bitwise_equal(y, ref_y));
  EXPECT_TRUE(bitwise_equal(mask, ref_mask));
  EXPECT_TRUE(bitwise_equal(param, ref_param));
  EXPECT_TRUE(bitwise_equal(m, ref_m));
  EXPECT_TRUE(bitwise_equal(v, ref_v));
}

TEST(CapturedStep, HostWaitInsideTheStepFailsCleanly) {
  KEEL_REQUIRE_CUDA();
  Tensor t = Tensor::full(Shape{100}, 2.0f, Device::cuda), doubled = Tensor::zeros(Shape{100}, Device::cuda);
  CapturedStep step;
  EXPECT_FALSE(step.capture([&] {
    scale(t, 2.0f, doubled);
    synchronize();  // waits for the device: impossible while recording
  }));
  // The wait is what failed (not an allocation): the runtime refuses it while capturing.
  EXPECT_NE(step.failure().find("cudaStreamSynchronize"), std::string::npos) << step.failure();
  EXPECT_FALSE(step.current());
  EXPECT_THROW(step.replay({}), Error);
  // The stream works as before.
  scale(t, 2.0f, doubled);
  EXPECT_DOUBLE_EQ(sum(doubled), 400.0);
}

TEST(CapturedStep, DeviceAllocationMakesTheCaptureStale) {
  KEEL_REQUIRE_CUDA();
  Tensor t = Tensor::full(Shape{64}, 1.5f, Device::cuda), y = Tensor::zeros(Shape{64}, Device::cuda);
  CapturedStep step;
  ASSERT_TRUE(step.capture([&] { scale(t, 3.0f, y); })) << step.failure();
  EXPECT_TRUE(step.current());
  // Reading back copies to the host without a device allocation, so the capture stays current.
  EXPECT_EQ(y.to_vector(), std::vector<float>(64, 0.0f));  // capturing ran nothing
  step.replay({});
  EXPECT_EQ(y.to_vector(), std::vector<float>(64, 4.5f));
  EXPECT_TRUE(step.current());
  const Tensor other = Tensor::zeros(Shape{1 << 20}, Device::cuda);
  EXPECT_FALSE(step.current());
  EXPECT_THROW(step.replay({}), Error);
  ASSERT_TRUE(step.capture([&] { scale(t, 3.0f, y); })) << step.failure();
  EXPECT_EQ(step.captures(), 2);
}

}  // namespace
}  // namespace keel
