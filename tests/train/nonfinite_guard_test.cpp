// The Trainer's non-finite guard and gradient clipping: a NaN loss stops training with the epoch
// and step, or (on_nonfinite: skip_step) drops that update and trains on; non-finite weights stop
// it at the epoch's end before any state is saved; a clipped step equals a hand computation of
// PyTorch's clip_grad_norm_; and with the keys off, or on but idle, training is bit-identical.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
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

// flatten -> linear on 2x2 images, plain SGD at a constant rate: small enough to compute by hand.
Config linear_config() {
  return parse_config(R"(
seed: 5
model:
  layers: [flatten, {linear: {out: 2}}]
optimizer: {name: sgd, lr: 0.5, momentum: 0, weight_decay: 0}
schedule: {name: constant}
train: {epochs: 3, batch_size: 8, drop_last: true, val_fraction: 0, best_metric: last}
)",
                      "linear_config");
}

constexpr int64_t kImages = 32, kSide = 2;

// 32 random 2x2 images with random labels; `poisoned` (if >= 0) gets a NaN pixel.
LabelledImages images(int64_t poisoned = -1) {
  LabelledImages out;
  out.images = testing::random_tensor(Shape{kImages, 1, kSide, kSide}, 21, 0.0f, 1.0f);
  if (poisoned >= 0) out.images.data()[poisoned * kSide * kSide] = NAN;
  Generator gen(22);
  std::vector<float> labels(static_cast<size_t>(kImages));
  for (float& l : labels) l = static_cast<float>(gen.next_below(2));
  out.labels = Tensor::from_data(Shape{kImages}, labels);
  return out;
}

std::vector<std::vector<float>> weights_of(nn::Sequential& model) {
  std::vector<std::vector<float>> out;
  for (nn::Parameter* p : model.parameters()) out.push_back(p->value.to_vector());
  return out;
}

bool all_finite(const std::vector<std::vector<float>>& tensors) {
  for (const auto& t : tensors)
    for (float v : t)
      if (!std::isfinite(v)) return false;
  return true;
}

struct Outcome {
  std::vector<std::vector<float>> initial, weights;
  std::vector<train::EpochRecord> history;
  int64_t skipped = 0;
  std::vector<std::string> log;
};

Outcome train_linear(const Config& c, const LabelledImages& data) {
  Generator init(c.seed);
  auto model = train::build_model(c, 1, kSide, init);
  Outcome out;
  out.initial = weights_of(*model);
  Trainer trainer(trainer_options(c), *model, Device::cpu, c.seed, 0);
  TrainerHooks hooks;
  hooks.log = [&](const std::string& line) { out.log.push_back(line); };
  EXPECT_TRUE(trainer.fit(data, {}, hooks));
  out.weights = weights_of(*model);
  out.history = trainer.history();
  out.skipped = trainer.skipped_steps();
  return out;
}

TEST(NonFiniteGuard, NaNLossStopsWithEpochStepAndWhatToTry) {
  Config c = linear_config();
  Generator init(c.seed);
  auto model = train::build_model(c, 1, kSide, init);
  Trainer trainer(trainer_options(c), *model, Device::cpu, c.seed, 0);
  TrainerHooks hooks;
  hooks.model_name = "model 1/1";
  int saves = 0;
  hooks.save_checkpoint = [&](TrainerHooks::Save) { ++saves; };
  try {
    trainer.fit(images(5), {}, hooks);
    FAIL() << "a NaN loss must stop training";
  } catch (const train::Diverged& e) {
    EXPECT_EQ(e.kind(), ErrorKind::runtime);
    EXPECT_EQ(exit_code_for(e.kind()), 3);
    const std::string m = e.what();
    EXPECT_NE(m.find("training diverged in model 1/1 at epoch 1, step "), std::string::npos) << m;
    EXPECT_NE(m.find(" of 4 (step "), std::string::npos) << m;
    EXPECT_NE(m.find("the training loss became NaN"), std::string::npos) << m;
    EXPECT_NE(m.find("optimizer.lr (now 0.5)"), std::string::npos) << m;
    EXPECT_NE(m.find("train.grad_clip"), std::string::npos) << m;
  }
  EXPECT_EQ(saves, 0);
  EXPECT_TRUE(all_finite(weights_of(*model))) << "the NaN step must not have been applied";
}

TEST(NonFiniteGuard, SkipStepDropsTheUpdateAndTrainsOn) {
  Config c = linear_config();
  c.train.on_nonfinite = "skip_step";
  const Outcome run = train_linear(c, images(5));
  // 32 images in batches of 8: the poisoned image is in exactly one batch of each of 3 epochs.
  EXPECT_EQ(run.skipped, 3);
  ASSERT_EQ(run.history.size(), 3u);
  for (const auto& r : run.history) EXPECT_TRUE(std::isfinite(r.train_loss)) << "epoch " << r.epoch;
  EXPECT_TRUE(all_finite(run.weights));
  EXPECT_NE(run.weights, run.initial) << "the other steps trained";
  ASSERT_FALSE(run.log.empty());
  EXPECT_NE(run.log[0].find("epoch 1: skipped 1 of 4 steps"), std::string::npos) << run.log[0];
}

// A buffer that turns infinite in epoch 2 (training mode reads batch statistics, so the loss
// stays finite) is found by the epoch's weight check: the run stops naming it, and only epoch 1's
// state, all finite, was ever saved.
TEST(NonFiniteGuard, WeightCheckStopsBeforeTheDivergedStateIsSaved) {
  Config c = testing::small_training_config();
  c.train.epochs = 3;
  Generator init(c.seed);
  auto model = train::build_model(c, 1, 6, init);
  Trainer trainer(trainer_options(c), *model, Device::cpu, c.seed, 0);
  Tensor* running_var = nullptr;
  model->visit_buffers("", [&](const std::string& name, Tensor& b) {
    if (name == "1.running_var") running_var = &b;
  });
  ASSERT_NE(running_var, nullptr);
  TrainerHooks hooks;
  hooks.on_step = [&](int epoch, int64_t step, int64_t) {
    if (epoch == 2 && step == 1) running_var->fill_(INFINITY);
  };
  std::vector<train::Checkpoint> saved;
  hooks.save_checkpoint = [&](TrainerHooks::Save) {
    train::Checkpoint ckpt;
    trainer.save_state(ckpt);
    saved.push_back(std::move(ckpt));
  };
  LabelledImages data;
  data.images = testing::random_tensor(Shape{192, 1, 6, 6}, 11, 0.0f, 1.0f);
  std::vector<float> labels(192);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 2);
  data.labels = Tensor::from_data(Shape{192}, labels);
  try {
    trainer.fit(data, {}, hooks);
    FAIL() << "an infinite buffer must stop training";
  } catch (const train::Diverged& e) {
    const std::string m = e.what();
    EXPECT_NE(
        m.find("during epoch 2: the values of buffer `1.running_var` are no longer all finite"),
        std::string::npos)
        << m;
    EXPECT_NE(m.find("the step is not known"), std::string::npos) << m;
  }
  ASSERT_FALSE(saved.empty());
  for (const train::Checkpoint& ckpt : saved) {
    EXPECT_EQ(ckpt.int_at("member0.epochs_done"), 1);
    for (const auto& [name, t] : ckpt.tensors)
      for (float v : t.to_vector()) ASSERT_TRUE(std::isfinite(v)) << name;
  }
}

// One step of plain SGD on the whole batch, computed in double: the gradient of the mean
// cross-entropy of flatten -> linear, its global norm over weight and bias, PyTorch's factor
// max_norm / (norm + 1e-6), and w - lr * factor * grad.
struct HandStep {
  double norm = 0.0;
  std::vector<std::vector<double>> clipped_update;  // weight, bias after the step
};

HandStep hand_step(const std::vector<std::vector<float>>& initial, const LabelledImages& data,
                   double lr, double max_norm) {
  const std::vector<float> x = data.images.to_vector(), y = data.labels.to_vector();
  const std::vector<float>&w = initial[0], &b = initial[1];
  const int64_t n = kImages, f = kSide * kSide;
  std::vector<double> dw(w.size(), 0.0), db(b.size(), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double logits[2];
    for (int k = 0; k < 2; ++k) {
      logits[k] = b[static_cast<size_t>(k)];
      for (int64_t j = 0; j < f; ++j) logits[k] += static_cast<double>(w[k * f + j]) * x[i * f + j];
    }
    const double top = std::max(logits[0], logits[1]);
    const double e0 = std::exp(logits[0] - top), e1 = std::exp(logits[1] - top);
    const double p[2] = {e0 / (e0 + e1), e1 / (e0 + e1)};
    for (int k = 0; k < 2; ++k) {
      const double d = (p[k] - (static_cast<int>(y[i]) == k ? 1.0 : 0.0)) / static_cast<double>(n);
      db[static_cast<size_t>(k)] += d;
      for (int64_t j = 0; j < f; ++j) dw[k * f + j] += d * x[i * f + j];
    }
  }
  HandStep out;
  for (double g : dw) out.norm += g * g;
  for (double g : db) out.norm += g * g;
  out.norm = std::sqrt(out.norm);
  const double factor = std::min(1.0, max_norm / (out.norm + 1e-6));
  std::vector<double> w2(w.begin(), w.end()), b2(b.begin(), b.end());
  for (size_t i = 0; i < w2.size(); ++i) w2[i] -= lr * factor * dw[i];
  for (size_t i = 0; i < b2.size(); ++i) b2[i] -= lr * factor * db[i];
  out.clipped_update = {w2, b2};
  return out;
}

TEST(GradClip, ClippedStepMatchesTheHandComputation) {
  Config c = linear_config();
  c.train.epochs = 1;
  c.train.batch_size = kImages;  // one step over every image: the order does not matter
  const LabelledImages data = images();
  const Outcome plain = train_linear(c, data);
  const HandStep unclipped = hand_step(plain.initial, data, c.optimizer.lr, 1e9);
  // The unclipped step agrees with the hand computation, so the clipped one tests only the clip.
  for (size_t t = 0; t < 2; ++t) {
    EXPECT_LT(testing::relative_error(plain.weights[t], unclipped.clipped_update[t]), 1e-5);
  }
  c.train.grad_clip = unclipped.norm / 4;
  const Outcome clipped = train_linear(c, data);
  const HandStep expected = hand_step(clipped.initial, data, c.optimizer.lr, c.train.grad_clip);
  for (size_t t = 0; t < 2; ++t) {
    EXPECT_LT(testing::relative_error(clipped.weights[t], expected.clipped_update[t]), 1e-5)
        << "tensor " << t;
    // A quarter of the plain step.
    for (size_t i = 0; i < clipped.weights[t].size(); ++i) {
      const double step = clipped.weights[t][i] - clipped.initial[t][i];
      const double plain_step = plain.weights[t][i] - plain.initial[t][i];
      EXPECT_NEAR(step, plain_step / 4, 1e-5 * std::abs(plain_step) + 1e-7)
          << "tensor " << t << " [" << i << "]";
    }
  }
}

// With grad_clip above every gradient norm and skip_step on a run without non-finite values,
// the guard reads every step but changes nothing: the same bits as with both keys off.
TEST(GradClip, IdleClipAndSkipAreBitIdenticalToOff) {
  Config off = testing::small_training_config();
  off.train.epochs = 2;
  const testing::TrainedModel reference = testing::train_synthetic(off, Device::cpu);
  Config idle = off;
  idle.train.grad_clip = 1e6;
  idle.train.on_nonfinite = "skip_step";
  const testing::TrainedModel guarded = testing::train_synthetic(idle, Device::cpu);
  EXPECT_EQ(guarded.weights, reference.weights);
  ASSERT_EQ(guarded.history.size(), reference.history.size());
  for (size_t e = 0; e < reference.history.size(); ++e) {
    EXPECT_EQ(guarded.history[e].train_loss, reference.history[e].train_loss);
    EXPECT_EQ(guarded.history[e].val_loss, reference.history[e].val_loss);
  }
}

TEST(GradClip, SameSeedSameResult) {
  Config c = testing::small_training_config();
  c.train.epochs = 2;
  c.train.grad_clip = 0.05;  // below the small CNN's gradient norms: most steps are clipped
  const testing::TrainedModel a = testing::train_synthetic(c, Device::cpu);
  const testing::TrainedModel b = testing::train_synthetic(c, Device::cpu);
  EXPECT_EQ(a.weights, b.weights);
  c.train.grad_clip = 0;
  const testing::TrainedModel unclipped = testing::train_synthetic(c, Device::cpu);
  EXPECT_NE(a.weights, unclipped.weights) << "grad_clip 0.05 should have clipped some step";
}

}  // namespace
}  // namespace keel
