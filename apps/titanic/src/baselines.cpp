// Baselines (see baselines.h): a few logistic fits on a few hundred rows, milliseconds each, so a
// run can print them beside the CNN's accuracy.
#include "baselines.h"

namespace keel::train::detail {

namespace {

using Rows = std::vector<int64_t>;

double share_right(const std::vector<int>& predicted, const data::FeatureSource& source,
                   const Rows& target) {
  int64_t right = 0;
  for (size_t i = 0; i < target.size(); ++i)
    right += predicted[i] == source.labels()[static_cast<size_t>(target[i])];
  return static_cast<double>(right) / static_cast<double>(target.size());
}

// The rows' values of `features`, group columns counting the labels of `known` only.
std::vector<std::vector<double>> feature_matrix(const data::FeatureSource& source,
                                                const std::vector<std::string>& features,
                                                const Rows& rows, const Rows& known) {
  const data::Table t = source.train_table(rows, known);
  std::vector<int64_t> cols;
  for (const auto& f : features) cols.push_back(t.column_index(f));
  std::vector<std::vector<double>> x;
  for (const auto& row : t.rows()) {
    std::vector<double> r;
    for (int64_t c : cols) r.push_back(row[static_cast<size_t>(c)]);
    x.push_back(std::move(r));
  }
  return x;
}

}  // namespace

double gender_rule_accuracy(const data::FeatureSource& source, const Rows& target) {
  const data::Table& train = source.tables().train;
  const int64_t female = train.column_index("sex_female");
  std::vector<int> predicted;
  for (int64_t r : target) predicted.push_back(train.at(r, female) != 0.0 ? 1 : 0);
  return share_right(predicted, source, target);
}

double logistic_accuracy(const data::FeatureSource& source, const data::FeatureSelection& selection,
                         const Rows& pool, const Rows& target) {
  const std::vector<std::string> features = source.select(selection, pool);
  std::vector<int> pool_labels;
  for (int64_t r : pool) pool_labels.push_back(source.labels()[static_cast<size_t>(r)]);
  const data::LogisticFit fit =
      data::fit_logistic_l2(feature_matrix(source, features, pool, pool), pool_labels);
  std::vector<int> predicted;
  for (const auto& x : feature_matrix(source, features, target, pool)) {
    double z = fit.intercept;
    for (size_t j = 0; j < x.size(); ++j) z += fit.coefficients[j] * x[j];
    predicted.push_back(z > 0 ? 1 : 0);
  }
  return share_right(predicted, source, target);
}

BaselineScores member_baselines(const PreparedData& data, const std::vector<Member>& members) {
  BaselineScores scores;
  for (const Member& m : members) {
    if (m.valid_rows.empty()) continue;
    scores.gender_rule.push_back(gender_rule_accuracy(*data.source, m.valid_rows));
    scores.logistic.push_back(
        logistic_accuracy(*data.source, data.selection, m.train_rows, m.valid_rows));
  }
  return scores;
}

}  // namespace keel::train::detail
