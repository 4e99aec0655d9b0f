// keel::train::Trainer on its own options, without a job config: what a program that links libkeel
// does. Options that would train something other than asked are refused, naming the field.
#include <gtest/gtest.h>

#include <string>

#include "keel/error.h"
#include "keel/nn/activation.h"
#include "keel/nn/linear.h"
#include "keel/nn/sequential.h"
#include "keel/random.h"
#include "keel/train/trainer.h"

namespace keel::train {
namespace {

// Two classes of 1x2x2 images: class 1 has the brighter left column.
LabelledImages separable_images(int64_t count, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> pixels, labels;
  for (int64_t i = 0; i < count; ++i) {
    const float label = static_cast<float>(i % 2);
    for (int p = 0; p < 4; ++p) {
      const float noise = static_cast<float>(gen.next_below(1000)) / 4000.0f;
      pixels.push_back((p % 2 == 0 ? 0.5f * label : 0.0f) + noise);
    }
    labels.push_back(label);
  }
  return {Tensor::from_data({count, 1, 2, 2}, pixels), Tensor::from_data({count}, labels)};
}

std::unique_ptr<nn::Sequential> small_model(Generator& gen) {
  auto model = std::make_unique<nn::Sequential>();
  model->emplace<nn::Flatten>();
  model->emplace<nn::Linear>(gen, 4, 2);
  return model;
}

TrainerOptions quick_options() {
  TrainerOptions o;
  o.source = "trainer_options_test";
  o.train.epochs = 20;
  o.train.batch_size = 16;
  o.train.best_metric = "last";
  o.optimizer.lr = 0.1;
  o.schedule.name = "constant";
  return o;
}

TEST(TrainerOptions, TrainAModelWithoutAJobConfig) {
  Generator gen(1);
  auto model = small_model(gen);
  Trainer trainer(quick_options(), *model, Device::cpu, 5, 0);
  const LabelledImages train = separable_images(128, 2), valid = separable_images(64, 3);
  ASSERT_TRUE(trainer.fit(train, valid, {}));
  EXPECT_EQ(trainer.history().size(), 20u);
  EXPECT_EQ(trainer.steps_done(), 20 * 8);
  EXPECT_GE(trainer.evaluate(valid).accuracy, 0.95);
}

void expect_refused(TrainerOptions o, const std::string& field) {
  Generator gen(1);
  auto model = small_model(gen);
  try {
    Trainer trainer(std::move(o), *model, Device::cpu, 5, 0);
    FAIL() << "options with a bad " << field << " were accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("trainer_options_test"), std::string::npos) << e.what();
  }
}

TEST(TrainerOptions, UnknownChoicesAndEmptyBatchesAreRefusedNamingTheField) {
  TrainerOptions o = quick_options();
  o.optimizer.name = "adam";  // would silently have trained with AdamW
  expect_refused(o, "optimizer.name");
  o = quick_options();
  o.schedule.name = "one-cycle";
  expect_refused(o, "schedule.name");
  o = quick_options();
  o.train.best_metric = "accuracy";
  expect_refused(o, "train.best_metric");
  o = quick_options();
  o.precision = "fp8";
  expect_refused(o, "precision");
  o = quick_options();
  o.train.batch_size = 0;
  expect_refused(o, "train.batch_size");
}

}  // namespace
}  // namespace keel::train
