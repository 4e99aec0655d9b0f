// Tests of the group survival features: hand-computed values on a seven-passenger table
// (leave-one-out, unknown state, the union group and the woman-child group), and on the Kaggle
// data that nothing a model may not see (held-out labels) reaches its features.
#include <gtest/gtest.h>

#include <algorithm>

#include "keel/data/split.h"
#include "keel/error.h"
#include "support/test_util.h"
#include "titanic/csv.h"
#include "titanic/features.h"
#include "titanic/fold_features.h"
#include "titanic/group_survival.h"

namespace keel::data {
namespace {

Passenger passenger(const std::string& name, bool female, const std::string& ticket, double fare,
                    const std::string& cabin, int family, std::optional<int> survived) {
  Passenger p;
  p.name = name;
  p.female = female;
  p.ticket = ticket;
  p.fare = fare;
  p.cabin = cabin;
  p.sibsp = family - 1;
  p.survived = survived;
  return p;
}

// Train rows 0..4, test rows 5..6. The Smiths share ticket A1 and fare 10; the Browns share only
// surname and fare (separate tickets); Jones travels alone.
std::vector<Passenger> seven() {
  return {passenger("Smith, Mr. John", false, "A1", 10, "C1", 3, 0),
          passenger("Smith, Mrs. Jane", true, "A1", 10, "C1", 3, 1),
          passenger("Smith, Master. Tom", false, "A1", 10, "", 3, 1),
          passenger("Brown, Miss. Ann", true, "B2", 5, "", 1, 0),
          passenger("Brown, Mrs. Kate", true, "B3", 5, "", 1, 1),
          passenger("Smith, Miss. Amy", true, "A1", 10, "", 3, std::nullopt),
          passenger("Jones, Mr. Bob", false, "C3", 8, "", 1, std::nullopt)};
}
const std::vector<int> kLabels = {0, 1, 1, 0, 1};

// Columns in order: ticket, surname_fare, cabin, family_size, group, wcg; each (survived, died).
using Row = std::vector<double>;

TEST(GroupSurvival, HandComputedLeaveOneOutWithEveryTrainRowKnown) {
  const GroupKeys keys = group_keys(seven(), 5);
  const Table t = group_survival_table(keys, kLabels, {0, 1, 2, 3, 4}, {0, 1, 2, 3, 4, 5, 6});
  ASSERT_EQ(t.columns(), group_survival_columns());
  // John (died) sees Jane and Tom, who survived; as a man he is in no woman-child group.
  EXPECT_EQ(t.row(0), (Row{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0}));
  // Jane sees John (died) and Tom (survived); her cabin mate is John; her wcg is Tom (Amy is test).
  EXPECT_EQ(t.row(1), (Row{1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0}));
  // Tom has no cabin: unknown there.
  EXPECT_EQ(t.row(2), (Row{1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0}));
  // Ann and Kate: linked by surname and fare only, travelling alone by family size.
  EXPECT_EQ(t.row(3), (Row{0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0}));
  EXPECT_EQ(t.row(4), (Row{0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1}));
  // Test row Amy sees every known Smith; her wcg is Jane and Tom.
  EXPECT_EQ(t.row(5), (Row{1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0}));
  // Jones is in no group: the unknown state everywhere.
  EXPECT_EQ(t.row(6), Row(12, 0.0));
}

TEST(GroupSurvival, HeldOutRowsSeeOnlyKnownRowsAndNeverTheirOwnLabel) {
  const GroupKeys keys = group_keys(seven(), 5);
  const std::vector<int64_t> known = {0, 1, 3}, held_out = {2, 4};
  const Table t = group_survival_table(keys, kLabels, known, held_out);
  // Tom sees John (died) and Jane (survived); Kate sees Ann (died).
  EXPECT_EQ(t.row(0), (Row{1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0}));
  EXPECT_EQ(t.row(1), (Row{0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1}));
  // No leak across folds: the held-out rows' own labels change nothing.
  std::vector<int> flipped = kLabels;
  for (int64_t r : held_out) flipped[static_cast<size_t>(r)] ^= 1;
  const Table again = group_survival_table(keys, flipped, known, held_out);
  EXPECT_EQ(again.rows(), t.rows());
}

TEST(GroupSurvival, AKnownRowsOwnLabelDoesNotShapeItsFeatures) {
  const GroupKeys keys = group_keys(seven(), 5);
  const std::vector<int64_t> all = {0, 1, 2, 3, 4};
  for (int64_t r : all) {
    std::vector<int> flipped = kLabels;
    flipped[static_cast<size_t>(r)] ^= 1;
    EXPECT_EQ(group_survival_table(keys, flipped, all, {r}).rows(),
              group_survival_table(keys, kLabels, all, {r}).rows())
        << "row " << r;
  }
}

// On the Kaggle rows: the features, the ranking and the images of a fold's held-out rows and of
// the test rows are the same whatever the held-out labels are.
TEST(FoldFeatures, HeldOutLabelsNeverReachAFoldsFeatures) {
  const KaggleTable train = read_kaggle_csv(testing::data_dir() + "/train.csv", KaggleSplit::train);
  const KaggleTable test = read_kaggle_csv(testing::data_dir() + "/test.csv", KaggleSplit::test);
  const FeatureSource source(wrangle_titanic(train, test));
  const std::vector<Split> folds = stratified_kfold(source.labels(), 5, 7);
  const Split& fold = folds[2];
  KaggleTable scrambled = train;
  for (int64_t r : fold.valid) {
    auto& s = scrambled.rows[static_cast<size_t>(r)].survived;
    *s = 1 - *s;
  }
  const FeatureSource other(wrangle_titanic(scrambled, test));
  FeatureSelection selection = FeatureSelection::ranked(12);
  selection.candidates = {"sex_female",  "pclass_3",
                          "title_mr",    "title_master",
                          "family_1",    "ticket_survived",
                          "ticket_died", "group_survived",
                          "group_died",  "wcg_survived",
                          "wcg_died",    "surname_fare_died",
                          "cabin_died",  "family_size_survived"};
  const FoldImages a = fold_images(source, selection, 1, fold.train, fold.train);
  const FoldImages b = fold_images(other, selection, 1, fold.train, fold.train);
  EXPECT_EQ(a.features, b.features);
  EXPECT_EQ(a.ranking.coefficients, b.ranking.coefficients);
  EXPECT_EQ(a.test_images.to_vector(), b.test_images.to_vector());
  EXPECT_EQ(a.train_images.to_vector(), b.train_images.to_vector());
  // ... while the group columns do carry information: some held-out row has a known group.
  const Table held_out = source.train_table(fold.valid, fold.train);
  const auto wcg = held_out.column("wcg_survived"), group = held_out.column("group_died");
  EXPECT_GT(std::count(wcg.begin(), wcg.end(), 1.0) + std::count(group.begin(), group.end(), 1.0),
            10);
}

TEST(FoldFeatures, GroupColumnsAreSelectableAndUnknownNamesAreRefused) {
  const FeatureSource source(load_titanic(testing::data_dir()));
  const auto all = source.all_train_rows();
  const FoldImages images = fold_images(
      source, FeatureSelection::from_list({"sex_female", "wcg_survived", "wcg_died"}), 1, all, all);
  EXPECT_EQ(images.train_images.dim(0), 891);
  EXPECT_EQ(images.test_images.dim(0), 418);
  EXPECT_EQ(images.train_images.dim(2), 2);
  EXPECT_TRUE(source.label_dependent(FeatureSelection::from_list({"wcg_died"})));
  EXPECT_FALSE(source.label_dependent(FeatureSelection::from_list({"sex_female"})));
  EXPECT_THROW(source.select(FeatureSelection::from_list({"wcg_alive"}), all), Error);
}

}  // namespace
}  // namespace keel::data
