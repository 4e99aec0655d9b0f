// Tests of feature selection: the Newton solver reaches the exact L2 logistic optimum (checked with
// an independent gradient and a one-dimensional closed case), and keel's ranking against §2's list.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "keel/error.h"
#include "keel/random.h"
#include "support/test_util.h"
#include "titanic/features.h"
#include "titanic/selection.h"

namespace keel::data {
namespace {

double sigmoid(double t) { return 1.0 / (1.0 + std::exp(-t)); }

// Gradient of C * sum log-loss + |w|^2/2 (intercept unpenalised), written out independently of the
// library: max-norm over weights and intercept.
double gradient_max_norm(const std::vector<std::vector<double>>& x, const std::vector<int>& y,
                         const LogisticFit& fit, double c) {
  const size_t d = fit.coefficients.size();
  std::vector<double> g(d + 1, 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    double z = fit.intercept;
    for (size_t j = 0; j < d; ++j) z += fit.coefficients[j] * x[i][j];
    const double r = sigmoid(z) - y[i];
    for (size_t j = 0; j < d; ++j) g[j] += c * r * x[i][j];
    g[d] += c * r;
  }
  for (size_t j = 0; j < d; ++j) g[j] += fit.coefficients[j];
  double m = 0;
  for (double v : g) m = std::max(m, std::abs(v));
  return m;
}

TEST(LogisticL2, OneFeatureMatchesTheClosedCase) {
  // x = +1 (label 1) and x = -1 (label 0): by symmetry b = 0 and w solves w = 2 C sigmoid(-w).
  const std::vector<std::vector<double>> x = {{1.0}, {-1.0}};
  const std::vector<int> y = {1, 0};
  for (double c : {0.1, 1.0, 10.0}) {
    double lo = 0, hi = 2 * c;  // w - 2c sigmoid(-w) changes sign on [0, 2c]
    for (int i = 0; i < 200; ++i) {
      const double mid = 0.5 * (lo + hi);
      (mid - 2 * c * sigmoid(-mid) > 0 ? hi : lo) = mid;
    }
    LogisticFit fit = fit_logistic_l2(x, y, c);
    EXPECT_NEAR(fit.coefficients[0], 0.5 * (lo + hi), 1e-9) << "C = " << c;
    EXPECT_NEAR(fit.intercept, 0.0, 1e-9) << "C = " << c;
  }
}

TEST(LogisticL2, ReachesTheOptimumOnRandomData) {
  // 200 rows, 6 features of different scales, labels from a noisy linear rule.
  Generator gen(7);
  std::vector<std::vector<double>> x;
  std::vector<int> y;
  for (int i = 0; i < 200; ++i) {
    std::vector<double> r;
    for (int j = 0; j < 6; ++j) r.push_back(gen.next_uniform(-1.0f, 1.0f) * (j + 1) * (j == 5 ? 50 : 1));
    const double z = 0.8 * r[0] - 1.5 * r[1] + 0.3 * r[2] + gen.next_uniform(-1.0f, 1.0f);
    y.push_back(z > 0 ? 1 : 0);
    x.push_back(r);
  }
  LogisticFit fit = fit_logistic_l2(x, y, 1.0);
  EXPECT_LT(fit.gradient_norm, 1e-9);
  EXPECT_LT(gradient_max_norm(x, y, fit, 1.0), 1e-8);
  EXPECT_LT(fit.iterations, 30);
}

TEST(LogisticL2, RejectsBadInput) {
  EXPECT_THROW(fit_logistic_l2({}, {}, 1.0), Error);
  EXPECT_THROW(fit_logistic_l2({{1.0}}, {1}, 0.0), Error);
  EXPECT_THROW(fit_logistic_l2({{1.0}, {1.0, 2.0}}, {1, 0}, 1.0), Error);
}

class TitanicSelection : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tables_ = new TitanicTables(load_titanic(testing::data_dir())); }
  static void TearDownTestSuite() {
    delete tables_;
    tables_ = nullptr;
  }
  static TitanicTables* tables_;
};
TitanicTables* TitanicSelection::tables_ = nullptr;

TEST_F(TitanicSelection, DefaultIsTheDemoList) {
  EXPECT_EQ(demo_features().size(), 33u);
  EXPECT_EQ(std::set<std::string>(demo_features().begin(), demo_features().end()).size(), 33u);
  std::vector<std::string> s = select_features(tables_->train, FeatureSelection{});
  EXPECT_EQ(s, demo_features());
  EXPECT_EQ(s.front(), "title_mr");
  EXPECT_EQ(s.back(), "cabin_type_f");
}

TEST_F(TitanicSelection, ExplicitListIsValidated) {
  const Table& train = tables_->train;
  EXPECT_EQ(select_features(train, FeatureSelection::from_list({"sex_female", "pclass_1"})),
            (std::vector<std::string>{"sex_female", "pclass_1"}));
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"sex_female", "title_king"}, {"sex_female", "sex_female"}, {}, {"survived"}}) {
    try {
      select_features(train, FeatureSelection::from_list(bad));
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::config) << e.what();
    }
  }
  EXPECT_THROW(select_features(train, FeatureSelection::ranked(0)), Error);
  EXPECT_THROW(select_features(train, FeatureSelection::ranked(48)), Error);
}

TEST_F(TitanicSelection, RankingIsTheConvergedOptimum) {
  const Table& train = tables_->train;
  FeatureRanking r = rank_features(train);
  ASSERT_EQ(r.names.size(), 47u);  // every column but passengerid and survived
  EXPECT_LT(r.gradient_norm, 1e-9);

  // Independent optimality check of the reported coefficients.
  std::vector<std::vector<double>> x;
  for (const auto& row : train.rows()) {
    std::vector<double> v;
    for (const auto& name : r.names) v.push_back(row[static_cast<size_t>(train.column_index(name))]);
    x.push_back(v);
  }
  LogisticFit fit{r.coefficients, r.intercept, 0, 0, 0};
  EXPECT_LT(gradient_max_norm(x, survived_labels(train), fit, 1.0), 1e-8);

  // sex_female + sex_male = 1 and the intercept is free, so at the exact optimum their weights are
  // opposite; a solver stopped early need not give that.
  auto coef = [&](const std::string& name) {
    return r.coefficients[static_cast<size_t>(std::find(r.names.begin(), r.names.end(), name) - r.names.begin())];
  };
  EXPECT_NEAR(coef("sex_female"), -coef("sex_male"), 1e-9);
  for (size_t k = 1; k < r.names.size(); ++k) {
    EXPECT_GE(std::abs(r.coefficients[k - 1]), std::abs(r.coefficients[k]));
  }
  EXPECT_NEAR(r.train_accuracy, 749.0 / 891.0, 1e-12);  // 0.841, the demo's reported accuracy
}

TEST_F(TitanicSelection, RankingAgainstTheDemoList) {
  // §2's list cannot be an exact optimum of this problem: it ranks sex_female 3rd and sex_male
  // 14th, while the optimum gives them equal |coefficient| (see the test above), so the demo's
  // lbfgs stopped before converging (scikit-learn's max_iter = 100 on unscaled ticket_group). What
  // keel's converged ranking shares with it, measured: 28 of the 33 as a set, 1 in the same
  // position (cabin_type_e, 12th); the demo's first two, title_mr and title_master, are keel's
  // third and first.
  std::vector<std::string> kept = select_features(tables_->train, FeatureSelection::ranked(33));
  ASSERT_EQ(kept.size(), 33u);
  const auto& demo = demo_features();
  int same_position = 0, shared = 0;
  for (size_t k = 0; k < 33; ++k) {
    same_position += kept[k] == demo[k] ? 1 : 0;
    shared += std::find(demo.begin(), demo.end(), kept[k]) != demo.end() ? 1 : 0;
  }
  std::printf("keel's top 33 vs PIPELINE.md §2: %d shared, %d in the same position\n", shared,
              same_position);
  EXPECT_EQ(shared, 28);
  EXPECT_EQ(same_position, 1);
  // The demo's two strongest features are among keel's three strongest.
  const std::vector<std::string> top3(kept.begin(), kept.begin() + 3);
  EXPECT_NE(std::find(top3.begin(), top3.end(), "title_mr"), top3.end());
  EXPECT_NE(std::find(top3.begin(), top3.end(), "title_master"), top3.end());

  // Fitting on the demo's own 33 features: the same training accuracy class as its 0.841.
  FeatureRanking on_demo = rank_features(tables_->train, demo);
  EXPECT_NEAR(on_demo.train_accuracy, 0.841, 0.005);
}

TEST_F(TitanicSelection, FormatRankingMarksTheDroppedFeatures) {
  FeatureRanking r = rank_features(tables_->train);
  std::string text = format_ranking(r, 33);
  EXPECT_NE(text.find("intercept"), std::string::npos);
  EXPECT_NE(text.find("     1  " + r.names[0]), std::string::npos) << text;
  size_t dropped = 0;
  for (size_t pos = 0; (pos = text.find("(dropped)", pos)) != std::string::npos; ++pos) ++dropped;
  EXPECT_EQ(dropped, 47u - 33u);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2 + 47);
}

}  // namespace
}  // namespace keel::data
