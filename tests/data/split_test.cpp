// Tests of the stratified splits: partition properties, class balance, the recipe's 178-of-891
// validation set, and seeding.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "keel/data/split.h"
#include "keel/error.h"
#include "support/test_util.h"
#include "titanic/features.h"

namespace keel::data {
namespace {

int count_label(const std::vector<int64_t>& rows, const std::vector<int>& labels, int label) {
  int n = 0;
  for (int64_t r : rows) n += labels[static_cast<size_t>(r)] == label ? 1 : 0;
  return n;
}

// train and valid are disjoint, sorted, and together are 0..n-1.
void expect_partition(const Split& s, size_t n) {
  EXPECT_TRUE(std::is_sorted(s.train.begin(), s.train.end()));
  EXPECT_TRUE(std::is_sorted(s.valid.begin(), s.valid.end()));
  std::vector<int64_t> all = s.train;
  all.insert(all.end(), s.valid.begin(), s.valid.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), n);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(all[i], static_cast<int64_t>(i));
}

std::vector<int> titanic_labels() {
  return survived_labels(load_titanic(testing::data_dir()).train);
}

TEST(Splits, RecipeValidationSplit) {
  const std::vector<int> labels = titanic_labels();
  Split s = stratified_split(labels, 0.2, 1);
  expect_partition(s, 891);
  EXPECT_EQ(s.valid.size(), 178u);  // 20% of 891, as the demo
  EXPECT_EQ(count_label(s.valid, labels, 1), 68);   // 0.2 * 342 = 68.4
  EXPECT_EQ(count_label(s.valid, labels, 0), 110);  // 0.2 * 549 = 109.8
}

TEST(Splits, SplitSeeding) {
  const std::vector<int> labels = titanic_labels();
  Split a = stratified_split(labels, 0.2, 7), b = stratified_split(labels, 0.2, 7),
        c = stratified_split(labels, 0.2, 8);
  EXPECT_EQ(a.valid, b.valid);
  EXPECT_NE(a.valid, c.valid);
}

TEST(Splits, SplitRejectsBadFractions) {
  const std::vector<int> labels = {0, 1, 0, 1};
  for (double f : {0.0, 1.0, -0.1, 0.05, 0.95}) EXPECT_THROW(stratified_split(labels, f, 1), Error) << f;
}

TEST(Splits, KFoldCoversEveryRowOnceAndKeepsRatios) {
  const std::vector<int> labels = titanic_labels();
  const int total_pos = 342, total_neg = 549;
  for (int k : {2, 5, 10}) {
    std::vector<Split> folds = stratified_kfold(labels, k, 3);
    ASSERT_EQ(folds.size(), static_cast<size_t>(k));
    std::vector<int> seen(891, 0);
    for (const Split& f : folds) {
      expect_partition(f, 891);
      for (int64_t r : f.valid) ++seen[static_cast<size_t>(r)];
      // Each class's share of a fold is within one row of its exact share.
      EXPECT_NEAR(count_label(f.valid, labels, 1), total_pos / double(k), 1.0) << "k=" << k;
      EXPECT_NEAR(count_label(f.valid, labels, 0), total_neg / double(k), 1.0) << "k=" << k;
      EXPECT_NEAR(static_cast<double>(f.valid.size()), 891.0 / k, 1.0) << "k=" << k;
    }
    for (int s : seen) ASSERT_EQ(s, 1);
  }
  EXPECT_THROW(stratified_kfold(labels, 1, 0), Error);
  EXPECT_THROW(stratified_kfold(std::vector<int>{0, 1}, 3, 0), Error);
}

TEST(Splits, KFoldSeeding) {
  const std::vector<int> labels = titanic_labels();
  EXPECT_EQ(stratified_kfold(labels, 5, 9)[2].valid, stratified_kfold(labels, 5, 9)[2].valid);
  EXPECT_NE(stratified_kfold(labels, 5, 9)[2].valid, stratified_kfold(labels, 5, 10)[2].valid);
}

TEST(Splits, RepeatedKFold) {
  const std::vector<int> labels = titanic_labels();
  std::vector<Split> all = repeated_stratified_kfold(labels, 5, 3, 4);
  ASSERT_EQ(all.size(), 15u);
  for (int r = 0; r < 3; ++r) {
    std::vector<int> seen(891, 0);
    for (int f = 0; f < 5; ++f) {
      for (int64_t row : all[static_cast<size_t>(r * 5 + f)].valid) ++seen[static_cast<size_t>(row)];
    }
    for (int s : seen) ASSERT_EQ(s, 1) << "repeat " << r;
  }
  // The rounds shuffle differently, and the first round is plain k-fold with the given seed.
  EXPECT_NE(all[0].valid, all[5].valid);
  EXPECT_NE(all[5].valid, all[10].valid);
  EXPECT_EQ(all[0].valid, stratified_kfold(labels, 5, 4)[0].valid);
  EXPECT_THROW(repeated_stratified_kfold(labels, 5, 0, 4), Error);
}

}  // namespace
}  // namespace keel::data
