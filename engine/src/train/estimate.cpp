// Fold accuracies -> mean, std and the corrected resampled t interval.
#include "keel/train/estimate.h"

#include <cmath>
#include <numeric>

namespace keel::train {

double student_t_975(int df) {
  static const double table[] = {12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060,
                                 2.2622,  2.2281, 2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199,
                                 2.1098,  2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639,
                                 2.0595,  2.0555, 2.0518, 2.0484, 2.0452, 2.0423};
  if (df < 1) return NAN;
  if (df <= 30) return table[df - 1];
  // Cornish-Fisher expansion around the normal quantile.
  const double z = 1.959964, d = df;
  return z + (z * z * z + z) / (4 * d) +
         (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * d * d);
}

AccuracyEstimate estimate_accuracy(const std::vector<double>& fold_accuracies,
                                   double test_to_train) {
  AccuracyEstimate e;
  e.folds = static_cast<int>(fold_accuracies.size());
  if (e.folds == 0) return {0, NAN, NAN, NAN, NAN};
  const double n = e.folds;
  e.mean = std::accumulate(fold_accuracies.begin(), fold_accuracies.end(), 0.0) / n;
  if (e.folds < 2) {
    e.std = e.low = e.high = NAN;
    return e;
  }
  double ss = 0.0;
  for (double a : fold_accuracies) ss += (a - e.mean) * (a - e.mean);
  e.std = std::sqrt(ss / (n - 1));
  const double half = student_t_975(e.folds - 1) * e.std * std::sqrt(1.0 / n + test_to_train);
  e.low = e.mean - half;
  e.high = e.mean + half;
  return e;
}

}  // namespace keel::train
