// titanic_train --evaluate: a nested, leak-free estimate of how a whole recipe does on passengers
// it has never seen. Outer repeated stratified k-fold; inside each outer training part the recipe
// runs as it would on all 891 rows (its own folds, rankings, group survival columns and stopping
// fitted there only) and, when the config lists evaluate.candidates, picks one by that inner
// cross-validation alone; the outer held-out rows are scored once, by the chosen candidate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/train/estimate.h"
#include "titanic/config.h"
#include "titanic/run.h"

namespace keel::train {

// One candidate on one outer fold.
struct CandidateScore {
  double inner = 0.0;  // the recipe's own cross-validation on the outer training rows (chooses)
  double outer = 0.0;  // its accuracy on the outer held-out rows (reported, never used to choose)
};

struct NestedEvaluation {
  std::vector<std::string> candidates;  // "" = the recipe as it is
  int folds = 0, repeats = 0;
  std::vector<int> chosen;               // per outer fold: index into candidates
  std::vector<double> outer_accuracies;  // per outer fold: the chosen candidate's
  AccuracyEstimate nested;               // of outer_accuracies: THE estimate
  // [candidate][outer fold], and each candidate as if fixed in advance (its own outer folds).
  std::vector<std::vector<CandidateScore>> scores;
  std::vector<AccuracyEstimate> candidate_estimates;
  // Simple baselines on the same outer folds: the gender rule, and an L2 logistic regression on
  // the recipe's own features (fitted on the outer training rows, C = 1).
  AccuracyEstimate gender_rule, logistic;
  int64_t models = 0;  // networks trained
  double seconds = 0.0;
  std::string device;
};

NestedEvaluation evaluate_titanic(const Config& config, const RunOptions& options);

// The outcome as summary.json text and as a report.html page.
std::string evaluation_json(const Config& config, const NestedEvaluation& e);
std::string evaluation_html(const Config& config, const NestedEvaluation& e);

}  // namespace keel::train
