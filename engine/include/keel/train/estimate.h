// Summaries of fold accuracies: mean, spread and a 95% interval that accounts for the overlap of
// the training sets of repeated k-fold (Nadeau & Bengio's corrected resampled t interval).
#pragma once

#include <vector>

namespace keel::train {

struct AccuracyEstimate {
  int folds = 0;  // scored held-out folds
  double mean = 0.0;
  double std = 0.0;  // sample standard deviation of the fold accuracies (n - 1)
  double low = 0.0;  // 95% interval
  double high = 0.0;
};

// fold_accuracies: one per held-out fold; test_to_train: held-out rows / training rows per fold
// (1/(k-1) for k-fold). The interval is mean ± t(0.975, n-1) · std · sqrt(1/n + test_to_train):
// the plain 1/n would pretend that folds sharing most of their training rows are independent.
// With a single fold the spread and interval are NaN.
AccuracyEstimate estimate_accuracy(const std::vector<double>& fold_accuracies,
                                   double test_to_train);

// The 0.975 quantile of Student's t with `df` degrees of freedom (exact table to 30, then a
// series in 1/df, within 1e-3 of the true value).
double student_t_975(int df);

}  // namespace keel::train
