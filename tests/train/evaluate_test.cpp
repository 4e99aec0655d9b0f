// Nested evaluation: the interval arithmetic by hand, and a tiny nested run on the Kaggle rows
// (2 outer folds, 2 candidates, four-epoch models) whose choice follows the inner scores only.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data/data_test_util.h"
#include "keel/train/estimate.h"
#include "support/test_util.h"
#include "titanic/config.h"
#include "titanic/evaluate.h"

namespace keel::train {
namespace {

TEST(Estimate, CorrectedResampledTIntervalByHand) {
  const AccuracyEstimate e = estimate_accuracy({0.8, 0.9}, 0.25);
  EXPECT_DOUBLE_EQ(e.mean, 0.85);
  EXPECT_NEAR(e.std, std::sqrt(0.005), 1e-12);
  const double half = 12.7062 * std::sqrt(0.005) * std::sqrt(0.5 + 0.25);
  EXPECT_NEAR(e.low, 0.85 - half, 1e-9);
  EXPECT_NEAR(e.high, 0.85 + half, 1e-9);
  EXPECT_NEAR(student_t_975(9), 2.2622, 1e-4);
  EXPECT_NEAR(student_t_975(60), 2.0003, 1e-3);
  EXPECT_NEAR(student_t_975(200), 1.9719, 1e-3);
  EXPECT_TRUE(std::isnan(estimate_accuracy({0.8}, 0.25).std));
}

const char* kTiny = R"(seed: 1
threads: 1
data: {features: [sex_female, title_mr, pclass_3, wcg_survived]}
model:
  layers:
    - conv2d: {out: 4, kernel: 3, padding: 1}
    - relu
    - adaptive_avg_pool
    - flatten
    - linear: {out: 2}
optimizer: {lr: 0.03}
train: {epochs: 4, batch_size: 32, folds: 2, best_metric: last}
output: {checkpoints: false}
evaluate:
  folds: 2
  repeats: 1
  candidates: ["train.epochs=4", "data.features=[sex_female, wcg_survived, wcg_died]"]
)";

TEST(NestedEvaluation, TinyRunChoosesByTheInnerLoopAndSaysItIsNested) {
  testing::TempDir out;
  Config config = parse_config(kTiny, "tiny.yaml");
  config.data.dir = testing::data_dir();
  config.device = "cpu";
  RunOptions options;
  options.out_dir = out.path().string();
  options.quiet = true;
  const NestedEvaluation e = evaluate_titanic(config, options);
  ASSERT_EQ(e.outer_accuracies.size(), 2u);
  EXPECT_EQ(e.models, 2 * 2 * 2);  // outer folds x candidates x the recipe's own 2 folds
  for (size_t o = 0; o < 2; ++o) {
    const auto& a = e.scores[0][o];
    const auto& b = e.scores[1][o];
    EXPECT_EQ(e.chosen[o], b.inner > a.inner ? 1 : 0);
    EXPECT_EQ(e.outer_accuracies[o], e.chosen[o] == 1 ? b.outer : a.outer);
  }
  EXPECT_GT(e.nested.mean, 0.6);
  std::ifstream in(out.path() / "summary.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["estimate"], "nested");
  EXPECT_EQ(j["fold_accuracies"].size(), 2u);
  std::ifstream page(out.path() / "report.html");
  std::stringstream html;
  html << page.rdbuf();
  EXPECT_NE(html.str().find("Nested estimate"), std::string::npos);
  // Same seed, same numbers.
  const NestedEvaluation again = evaluate_titanic(config, options);
  EXPECT_EQ(again.outer_accuracies, e.outer_accuracies);
}

}  // namespace
}  // namespace keel::train
