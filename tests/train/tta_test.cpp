// Test-time augmentation (predict.tta): off it is the plain prediction; on it is 0.4 x plain +
// 0.6 x the mean of the augmented passes, each pass the same on every call; and the config refuses
// it without data.augment.
#include <gtest/gtest.h>

#include <cmath>

#include "keel/error.h"
#include "keel/random.h"
#include "keel/train/trainer.h"
#include "support/trainer_run.h"
#include "titanic/config.h"
#include "titanic/model_builder.h"

namespace keel::train {
namespace {

constexpr int kSide = 6, kImages = 12;

Tensor random_images() {
  Generator gen(5);
  std::vector<float> v(kImages * kSide * kSide);
  for (float& x : v) x = gen.next_uniform() < 0.4f ? 1.0f : 0.0f;
  return Tensor::from_data({kImages, 1, kSide, kSide}, v);
}

// Predictions of a freshly initialised model (the same weights for every config).
std::vector<float> predict(Config config, int tta, bool final_prediction) {
  config.data.augment = true;
  config.predict.tta = tta;
  Generator init(config.seed);
  auto model = build_model(config, 1, kSide, init);
  Trainer trainer(trainer_options(config), *model, Device::cpu, config.seed, 0);
  const Tensor images = random_images();
  return (final_prediction ? trainer.predict_final(images) : trainer.predict_probabilities(images))
      .to_vector();
}

// Rows of (a - wa * b - wb * c) / w, which must be a probability distribution.
void expect_distribution(const std::vector<float>& rows) {
  for (int i = 0; i < kImages; ++i) {
    EXPECT_NEAR(rows[2 * i] + rows[2 * i + 1], 1.0f, 1e-5f) << "row " << i;
    EXPECT_GE(rows[2 * i], -1e-5f);
    EXPECT_LE(rows[2 * i], 1.0f + 1e-5f);
  }
}

TEST(TestTimeAugmentation, OffIsThePlainPrediction) {
  const Config c = testing::small_training_config();
  EXPECT_EQ(predict(c, 0, true), predict(c, 0, false));
}

TEST(TestTimeAugmentation, BlendsThePlainPredictionWithEachAugmentedPass) {
  const Config c = testing::small_training_config();
  const std::vector<float> plain = predict(c, 0, false);
  const std::vector<float> one = predict(c, 1, true), two = predict(c, 2, true);
  EXPECT_EQ(two, predict(c, 2, true));  // reproducible
  std::vector<float> pass0(plain.size()), pass1(plain.size());
  double moved = 0.0;
  for (size_t i = 0; i < plain.size(); ++i) {
    pass0[i] = (one[i] - 0.4f * plain[i]) / 0.6f;
    pass1[i] = (two[i] - 0.4f * plain[i] - 0.3f * pass0[i]) / 0.3f;
    moved += std::abs(pass0[i] - plain[i]);
  }
  expect_distribution(pass0);
  expect_distribution(pass1);
  EXPECT_GT(moved, 1e-3);  // the augmented pass saw other images than the plain one
}

TEST(TestTimeAugmentation, NeedsAugmentationInTheConfig) {
  Config c = testing::small_training_config();
  try {
    apply_override(c, "predict.tta=4");
    FAIL() << "predict.tta without data.augment was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("data.augment"), std::string::npos) << e.what();
  }
  apply_overrides(c, {"predict.tta=4", "data.augment=true"});
  EXPECT_EQ(c.predict.tta, 4);
}

}  // namespace
}  // namespace keel::train
