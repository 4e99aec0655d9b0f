// Feature selection (PIPELINE.md §2): an explicit ordered list of columns, or keel's own ranking by
// |coefficient| of an L2 logistic regression (scikit-learn's defaults, solved to tight tolerance).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/data/table.h"

namespace keel::data {

// The 33 features of PIPELINE.md §2 in pixel order (the demo's ranking).
const std::vector<std::string>& demo_features();

// How the features that become pixels are chosen.
struct FeatureSelection {
  enum class Method { list, logistic_ranking };
  Method method = Method::list;
  // list: these columns, in this order (pixel k = features[k]).
  std::vector<std::string> features = demo_features();
  // logistic_ranking: the top_k of `candidates` (empty: every feature column) by |coefficient|.
  int top_k = 33;
  double c = 1.0;  // inverse L2 strength, as scikit-learn's C
  std::vector<std::string> candidates;

  static FeatureSelection from_list(std::vector<std::string> features);
  static FeatureSelection ranked(int top_k, double c = 1.0);
};

// An L2-regularised logistic regression fitted by Newton's method on the exact objective
//   C * sum_i log(1 + exp(-s_i (x_i . w + b))) + |w|^2 / 2,   s_i = +1 for label 1, -1 for 0,
// the intercept b unpenalised (scikit-learn LogisticRegression(penalty="l2", C, lbfgs) minimises
// the same function; the optimum is unique because the penalty makes it strictly convex).
struct LogisticFit {
  std::vector<double> coefficients;  // one per input column
  double intercept = 0.0;
  int iterations = 0;
  double gradient_norm = 0.0;  // max-norm of the objective's gradient at the solution
  double objective = 0.0;
};
// x: rows of equal length; y: 0/1 per row. Iterates until the gradient's max-norm is below
// `tolerance` (or throws keel::Error (runtime) after max_iterations Newton steps).
LogisticFit fit_logistic_l2(const std::vector<std::vector<double>>& x, const std::vector<int>& y,
                            double c = 1.0, double tolerance = 1e-9, int max_iterations = 100);

// Features ordered by |coefficient| of fit_logistic_l2 on the unscaled columns, largest first
// (ties keep the table's column order).
struct FeatureRanking {
  std::vector<std::string> names;
  std::vector<double> coefficients;  // signed, in the order of `names`
  double intercept = 0.0;
  double train_accuracy = 0.0;  // of the fitted model on its own training rows
  int iterations = 0;
  double gradient_norm = 0.0;
};
// candidates empty: every feature column of `train` (all but passengerid and survived).
FeatureRanking rank_features(const Table& train, const std::vector<std::string>& candidates = {},
                             double c = 1.0);

// The ranking as aligned text lines ("  1  title_mr          -2.1234"), marking the kept top_k.
std::string format_ranking(const FeatureRanking& ranking, int top_k);

// Resolves a selection against the wrangled train table: checks that every listed column exists
// and is a feature (keel::Error, data, naming the column and listing the valid ones), or ranks and
// keeps the top_k. `ranking`, when given, receives the ranking of a logistic_ranking selection.
std::vector<std::string> select_features(const Table& train, const FeatureSelection& selection,
                                         FeatureRanking* ranking = nullptr);

}  // namespace keel::data
