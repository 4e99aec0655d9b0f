// Seeded, stratified row splits: one train/validation split, k-fold cross-validation, and repeated
// k-fold. Each class is shuffled on its own, so every split keeps the label ratio of the data.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace keel::data {

// Row indices into the labelled table, each list sorted ascending.
struct Split {
  std::vector<int64_t> train;
  std::vector<int64_t> valid;
};

// round(valid_fraction * N) rows go to validation, shared among the classes by largest remainder of
// valid_fraction * class_count (891 rows, 549 of class 0 and 342 of class 1, at 0.2: 110 + 68 =
// 178). labels: small non-negative class ids. Throws keel::Error (config) unless 0 < fraction < 1
// and both parts end up non-empty.
Split stratified_split(std::span<const int> labels, double valid_fraction, uint64_t seed);

// k folds: every row is in exactly one validation fold; each class is dealt round-robin over the
// folds (continuing where the previous class stopped), so fold sizes differ by at most one and a
// class's count per fold by at most one. Throws keel::Error (config) unless 2 <= k <= N.
std::vector<Split> stratified_kfold(std::span<const int> labels, int k, uint64_t seed);

// `repeats` rounds of stratified_kfold, round r shuffled with its own seed derived from `seed`
// (seed + r * 0x9E3779B97F4A7C15, so rounds differ and each round is reproducible on its own).
// Returned flat: repeats * k splits, round by round.
std::vector<Split> repeated_stratified_kfold(std::span<const int> labels, int k, int repeats,
                                             uint64_t seed);

}  // namespace keel::data
