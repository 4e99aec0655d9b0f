// The two per-row quantities every accuracy and loss figure of a run is made of (epoch evaluation,
// the validation analysis, the report's top losses), so that they all agree to the last digit.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace keel::train {

// Cross-entropy of one row given the probability of its true class; a probability that rounded to
// zero costs 69 nats instead of infinity, so one confident mistake cannot make the mean infinite.
inline double row_log_loss(double p_true) { return -std::log(std::max(p_true, 1e-30)); }

// Index of the largest of k class probabilities (the first, on a tie).
template <typename T>
int64_t predicted_class(const T* probs, int64_t k) {
  return std::max_element(probs, probs + k) - probs;
}

}  // namespace keel::train
