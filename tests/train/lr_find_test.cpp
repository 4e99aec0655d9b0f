// The learning-rate range test: the exponential sweep, the stop when the loss explodes, the
// steepest-descent suggestion on a hand-made curve, and the SVG chart.
#include <gtest/gtest.h>

#include <cmath>

#include "keel/random.h"
#include "keel/train/lr_find.h"
#include "support/trainer_run.h"
#include "titanic/model_builder.h"

namespace keel::train {
namespace {

TEST(LrFind, SteepestDescentOfAHandMadeCurve) {
  // Flat, then falling fastest between lr 1e-3 and 1e-2 (index 8 to 12), then rising.
  std::vector<double> lrs, losses;
  for (int i = 0; i <= 20; ++i) lrs.push_back(std::pow(10.0, -5 + 0.25 * i));
  for (int i = 0; i <= 20; ++i) {
    losses.push_back(i < 8    ? 1.0
                     : i < 13 ? 1.0 - 0.15 * (i - 7) - (i == 10 ? 0.1 : 0.0)
                              : 0.3 + 0.2 * (i - 12));
  }
  // The central difference is steepest at index 9 (the dip at 10 lowers 9's right neighbour).
  EXPECT_EQ(steepest_descent(lrs, losses), 9);
  EXPECT_EQ(steepest_descent({1, 2, 3}, {3, 2, 1}), -1);
}

TEST(LrFind, SweepsExponentiallyAndStopsWhenTheLossExplodes) {
  Config c = testing::small_training_config();
  Generator init(c.seed), data(9);
  auto model = build_model(c, 1, 6, init);
  std::vector<float> pixels(128 * 36), labels(128);
  for (size_t i = 0; i < labels.size(); ++i) {
    labels[i] = static_cast<float>(i % 2);
    for (size_t p = 0; p < 36; ++p)
      pixels[i * 36 + p] = data.next_uniform() < (labels[i] ? 0.7f : 0.3f);
  }
  LabelledImages train;
  train.images = Tensor::from_data({128, 1, 6, 6}, pixels);
  train.labels = Tensor::from_data({128}, labels);
  LrFindOptions o;
  o.steps = 60;
  o.end_lr = 1e4;  // far too high: the loss must explode before the end
  const LrFindResult r = lr_find(trainer_options(c), *model, train, Device::cpu, 1, o);
  ASSERT_GE(r.lrs.size(), 10u);
  EXPECT_TRUE(r.stopped_early);
  EXPECT_LT(r.lrs.size(), 60u);
  EXPECT_DOUBLE_EQ(r.lrs.front(), o.start_lr);
  for (size_t i = 1; i < r.lrs.size(); ++i) {
    EXPECT_NEAR(std::log(r.lrs[i] / r.lrs[i - 1]), std::log(o.end_lr / o.start_lr) / 59, 1e-9);
  }
  EXPECT_GE(r.suggested_lr, r.lrs.front());
  EXPECT_LE(r.suggested_lr, r.lrs.back());
  const std::string svg = lr_find_svg(r);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("suggested"), std::string::npos);
}

}  // namespace
}  // namespace keel::train
