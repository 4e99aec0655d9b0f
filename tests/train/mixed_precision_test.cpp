// The Trainer at precision fp16 and bf16 on the CPU emulation: the loss scaler skips and counts
// overflowed steps and backs off until training goes on; a non-finite loss stays the non-finite
// guard's (train.on_nonfinite), as does an overflow that persists at the scale's minimum; bf16 and
// fp32 have no scaler; and a run stopped and resumed from its checkpoint continues bit for bit,
// scaler state included.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/nn/linear.h"
#include "keel/random.h"
#include "keel/train/checkpoint.h"
#include "keel/train/trainer.h"
#include "support/test_util.h"
#include "support/trainer_run.h"
#include "titanic/model_builder.h"

namespace keel {
namespace {

using train::LabelledImages;
using train::Trainer;
using train::TrainerHooks;

// 192 random 6x6 images with alternating labels; `poisoned` (if >= 0) gets a NaN pixel.
LabelledImages images(int64_t poisoned = -1) {
  LabelledImages data;
  data.images = testing::random_tensor(Shape{192, 1, 6, 6}, 31, 0.0f, 1.0f);
  if (poisoned >= 0) data.images.data()[poisoned * 36] = NAN;
  std::vector<float> labels(192);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 2);
  data.labels = Tensor::from_data(Shape{192}, labels);
  return data;
}

Config small_cnn(const std::string& precision) {
  Config c = testing::small_training_config();
  c.precision = precision;
  c.train.val_fraction = 0;
  c.train.epochs = 3;
  return c;
}

// No batch norm: a NaN pixel's forward pass leaves no running statistic behind to stop the run
// at the epoch's weight check, so the skip test sees the step guard alone. No ReLU either: it
// would turn the NaN into 0 on the way forward (a finite loss over NaN gradients, which fp16
// cannot tell from an overflow and leaves to the scaler, as PyTorch's GradScaler does).
Config mlp(const std::string& on_nonfinite) {
  Config c = parse_config(R"(
seed: 4
precision: fp16
model:
  layers: [flatten, {linear: {out: 8}}, {linear: {out: 2}}]
optimizer: {name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0}
schedule: {name: constant}
train: {epochs: 3, batch_size: 64, drop_last: true, val_fraction: 0, best_metric: last}
)",
                          "mlp");
  c.train.on_nonfinite = on_nonfinite;
  return c;
}

struct Outcome {
  std::vector<std::vector<float>> weights;
  std::vector<train::EpochRecord> history;
  int64_t skipped = 0, overflowed = 0;
  double loss_scale = NAN;
  std::vector<std::string> log;
};

std::vector<std::vector<float>> weights_of(nn::Sequential& model) {
  std::vector<std::vector<float>> out;
  for (nn::Parameter* p : model.parameters()) out.push_back(p->value.to_vector());
  return out;
}

Outcome finish(Trainer& trainer, nn::Sequential& model, Outcome out) {
  out.weights = weights_of(model);
  out.history = trainer.history();
  out.skipped = trainer.skipped_steps();
  out.overflowed = trainer.loss_scale_skipped_steps();
  out.loss_scale = trainer.loss_scale();
  return out;
}

Outcome train(const Config& c, const LabelledImages& data) {
  Generator init(c.seed);
  auto model = train::build_model(c, 1, 6, init);
  Trainer trainer(trainer_options(c), *model, Device::cpu, c.seed, 0);
  Outcome out;
  TrainerHooks hooks;
  hooks.log = [&](const std::string& line) { out.log.push_back(line); };
  EXPECT_TRUE(trainer.fit(data, {}, hooks));
  return finish(trainer, *model, std::move(out));
}

bool all_finite(const std::vector<std::vector<float>>& tensors) {
  for (const auto& t : tensors)
    for (float v : t)
      if (!std::isfinite(v)) return false;
  return true;
}

// At 2^24 the scaled loss gradient overflows fp16 in the backward pass: the scaler skips those
// steps, halves the scale each time until the gradients fit, and training goes on from there.
TEST(MixedPrecision, OverflowIsSkippedCountedAndTrainingRecovers) {
  Config c = small_cnn("fp16");
  c.train.loss_scale = 16777216;
  const Outcome run = train(c, images());
  EXPECT_GT(run.overflowed, 0);
  EXPECT_LT(run.overflowed, 9) << "3 epochs of 3 steps: some steps must have trained";
  EXPECT_EQ(run.loss_scale, 16777216.0 / std::exp2(static_cast<double>(run.overflowed)))
      << "one halving per skipped step, no growth within 2000 steps";
  EXPECT_EQ(run.skipped, 0) << "overflows are the scaler's, not the non-finite guard's";
  EXPECT_TRUE(all_finite(run.weights));
  for (const auto& r : run.history) EXPECT_TRUE(std::isfinite(r.train_loss)) << r.epoch;
  ASSERT_FALSE(run.log.empty());
  EXPECT_NE(run.log[0].find("epoch 1: the fp16 loss scaler skipped "), std::string::npos)
      << run.log[0];

  // The same run from a scale that never overflows applies every step: the skipped ones made a
  // difference.
  Config calm = small_cnn("fp16");
  calm.train.loss_scale = 1024;
  const Outcome steady = train(calm, images());
  EXPECT_EQ(steady.overflowed, 0);
  EXPECT_EQ(steady.loss_scale, 1024.0);
  EXPECT_NE(steady.weights, run.weights);
}

TEST(MixedPrecision, GrowsAfterTheIntervalOfCleanSteps) {
  Config c = small_cnn("fp16");
  c.train.loss_scale = 256;
  c.train.loss_scale_growth_interval = 4;
  const Outcome run = train(c, images());
  EXPECT_EQ(run.overflowed, 0);
  EXPECT_EQ(run.loss_scale, 256.0 * 4) << "9 clean steps: grown twice";
}

TEST(MixedPrecision, Bfloat16AndFp32HaveNoScaler) {
  for (const char* precision : {"bf16", "fp32"}) {
    const Outcome run = train(small_cnn(precision), images());
    EXPECT_EQ(run.overflowed, 0) << precision;
    EXPECT_TRUE(std::isnan(run.loss_scale)) << precision;
    EXPECT_TRUE(all_finite(run.weights)) << precision;
  }
  EXPECT_NE(train(small_cnn("bf16"), images()).weights, train(small_cnn("fp32"), images()).weights)
      << "bf16 operands change the arithmetic";
}

// With plain SGD the update is proportional to the gradient, so a scale that was not divided back
// out (or was divided twice) would show at once; unscaled, the fp16 run stays near the fp32 run.
// 2e-3 allows for the operands' rounding to 11 significant bits over 9 steps.
TEST(MixedPrecision, ScaledSgdTrainsLikeFp32) {
  Config fp16 = mlp("stop");
  fp16.train.loss_scale = 4096;
  Config fp32 = fp16;
  fp32.precision = "fp32";
  const Outcome reduced = train(fp16, images()), reference = train(fp32, images());
  ASSERT_EQ(reduced.overflowed, 0);
  for (size_t i = 0; i < reference.weights.size(); ++i) {
    EXPECT_LT(testing::relative_error(reduced.weights[i], reference.weights[i]), 2e-3)
        << "parameter " << i;
    EXPECT_NE(reduced.weights[i], reference.weights[i]) << "parameter " << i;
  }
}

// A NaN pixel makes the loss NaN: no loss scale cures that, so the guard decides as at fp32.
TEST(MixedPrecision, NonFiniteLossStaysTheGuardsToStop) {
  const Config c = mlp("stop");
  Generator init(c.seed);
  auto model = train::build_model(c, 1, 6, init);
  Trainer trainer(trainer_options(c), *model, Device::cpu, c.seed, 0);
  try {
    trainer.fit(images(5), {}, {});
    FAIL() << "a NaN loss must stop training";
  } catch (const train::Diverged& e) {
    EXPECT_NE(std::string(e.what()).find("the training loss became NaN"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(trainer.loss_scale_skipped_steps(), 0);
  EXPECT_EQ(trainer.loss_scale(), 65536.0) << "the scale is left alone";
}

TEST(MixedPrecision, NonFiniteLossStaysTheGuardsToSkip) {
  const Outcome run = train(mlp("skip_step"), images(5));
  EXPECT_EQ(run.skipped, 3) << "the poisoned image is in one batch of each epoch";
  EXPECT_EQ(run.overflowed, 0);
  EXPECT_EQ(run.loss_scale, 65536.0);
  EXPECT_TRUE(all_finite(run.weights));
}

// flatten -> linear(36 -> 4) -> linear(4 -> 2) whose second weight is ±60000 (finite in fp16):
// a wrong prediction gives a finite loss but a hidden-layer gradient of about 1.2e5, past fp16's
// range even unscaled, so the overflow does not go away at the scale's minimum of 1.
Config saturated_config(const std::string& on_nonfinite) {
  Config c = parse_config(R"(
seed: 3
precision: fp16
model:
  layers: [flatten, {linear: {out: 4}}, {linear: {out: 2}}]
optimizer: {name: sgd, lr: 0.1, momentum: 0, weight_decay: 0}
schedule: {name: constant}
train: {epochs: 1, batch_size: 1, drop_last: true, val_fraction: 0, best_metric: last,
        loss_scale: 1}
)",
                          "saturated_config");
  c.train.on_nonfinite = on_nonfinite;
  return c;
}

void saturate(nn::Sequential& model) {
  auto& second = dynamic_cast<nn::Linear&>(model[2]);
  float* w = second.weight().value.data();
  for (int64_t i = 0; i < second.weight().value.numel(); ++i) w[i] = i < 4 ? 60000.0f : -60000.0f;
}

TEST(MixedPrecision, OverflowAtTheMinimumScaleStopsUnderStop) {
  const Config c = saturated_config("stop");
  Generator init(c.seed);
  auto model = train::build_model(c, 1, 6, init);
  saturate(*model);
  Trainer trainer(trainer_options(c), *model, Device::cpu, c.seed, 0);
  try {
    trainer.fit(images(), {}, {});
    FAIL() << "an overflow at the minimum scale must stop training under on_nonfinite: stop";
  } catch (const train::Diverged& e) {
    EXPECT_NE(std::string(e.what()).find("even at the loss scale's minimum of 1"),
              std::string::npos)
        << e.what();
  }
}

TEST(MixedPrecision, OverflowAtTheMinimumScaleIsSkippedUnderSkipStep) {
  const Config c = saturated_config("skip_step");
  Generator init(c.seed);
  auto model = train::build_model(c, 1, 6, init);
  saturate(*model);
  Trainer trainer(trainer_options(c), *model, Device::cpu, c.seed, 0);
  ASSERT_TRUE(trainer.fit(images(), {}, {}));
  EXPECT_GT(trainer.loss_scale_skipped_steps(), 0);
  EXPECT_EQ(trainer.loss_scale(), 1.0);
  EXPECT_EQ(trainer.skipped_steps(), 0);
  EXPECT_TRUE(all_finite(weights_of(*model)));
}

// Stopped after epoch 1 (with the scaler mid-way: skips counted, scale backed off) and resumed
// from the checkpoint, training ends where the uninterrupted run ends, bit for bit.
TEST(MixedPrecision, ResumeContinuesTheScalerExactly) {
  Config c = small_cnn("fp16");
  c.train.loss_scale = 16777216;
  c.train.loss_scale_growth_interval = 2;
  const Outcome whole = train(c, images());

  Config first = c;
  first.train.stop_after_epochs = 1;
  Generator init(c.seed);
  auto model = train::build_model(c, 1, 6, init);
  train::Checkpoint saved;
  {
    Trainer trainer(trainer_options(first), *model, Device::cpu, c.seed, 0);
    TrainerHooks hooks;
    hooks.save_checkpoint = [&](TrainerHooks::Save) { trainer.save_state(saved); };
    EXPECT_FALSE(trainer.fit(images(), {}, hooks));
  }
  Generator other(c.seed + 1);
  auto resumed_model = train::build_model(c, 1, 6, other);
  Trainer resumed(trainer_options(c), *resumed_model, Device::cpu, c.seed, 0);
  resumed.load_state(saved);
  ASSERT_TRUE(resumed.fit(images(), {}, {}));
  const Outcome rest = finish(resumed, *resumed_model, {});
  EXPECT_EQ(rest.weights, whole.weights);
  EXPECT_EQ(rest.overflowed, whole.overflowed);
  EXPECT_EQ(rest.loss_scale, whole.loss_scale);
}

}  // namespace
}  // namespace keel
