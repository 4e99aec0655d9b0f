// The simple baselines a CNN must beat, each scored on held-out rows with the labels of training
// rows only: the gender rule (women survive) and an L2 logistic regression on the recipe's
// features (its ranking and group survival columns fitted on the training rows, as the CNN's).
#pragma once

#include <cstdint>
#include <vector>

#include "run_plan.h"
#include "titanic/fold_features.h"
#include "titanic/selection.h"

namespace keel::train::detail {

double gender_rule_accuracy(const data::FeatureSource& source, const std::vector<int64_t>& target);
double logistic_accuracy(const data::FeatureSource& source, const data::FeatureSelection& selection,
                         const std::vector<int64_t>& pool, const std::vector<int64_t>& target);

// Both baselines for every planned model with validation rows, fitted on its training rows and
// scored on its validation rows (the rows the CNN's validation accuracy comes from).
struct BaselineScores {
  std::vector<double> gender_rule;
  std::vector<double> logistic;
};
BaselineScores member_baselines(const PreparedData& data, const std::vector<Member>& members);

}  // namespace keel::train::detail
