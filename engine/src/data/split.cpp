// Stratified splits with keel::Generator's Fisher-Yates shuffles, so a seed gives the same rows on
// every machine (no std::shuffle, whose algorithm differs between standard libraries).
#include "keel/data/split.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/random.h"

namespace keel::data {

namespace {

// Row indices of each class (in ascending class order), each list shuffled with `gen`.
std::vector<std::vector<int64_t>> shuffled_classes(std::span<const int> labels, Generator& gen) {
  std::map<int, std::vector<int64_t>> by_class;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) {
      throw Error(ErrorKind::data, fmt::format("label {} of row {} is negative; class ids are 0, 1, "
                                               "...",
                                               labels[i], i));
    }
    by_class[labels[i]].push_back(static_cast<int64_t>(i));
  }
  std::vector<std::vector<int64_t>> out;
  for (auto& [label, rows] : by_class) {
    for (size_t i = rows.size(); i > 1; --i) {
      const size_t j = gen.next_below(i);
      std::swap(rows[i - 1], rows[j]);
    }
    out.push_back(std::move(rows));
  }
  return out;
}

}  // namespace

Split stratified_split(std::span<const int> labels, double valid_fraction, uint64_t seed) {
  const auto n = static_cast<int64_t>(labels.size());
  if (!(valid_fraction > 0.0 && valid_fraction < 1.0)) {
    throw Error(ErrorKind::config, fmt::format("the validation fraction must be between 0 and 1 "
                                               "(exclusive), got {}",
                                               valid_fraction));
  }
  const auto total = static_cast<int64_t>(std::llround(valid_fraction * static_cast<double>(n)));
  if (total < 1 || total >= n) {
    throw Error(ErrorKind::config,
                fmt::format("a validation fraction of {} of {} rows leaves {} validation rows; both "
                            "parts need at least one row, so choose another fraction",
                            valid_fraction, n, total));
  }
  Generator gen(seed);
  std::vector<std::vector<int64_t>> classes = shuffled_classes(labels, gen);
  // Largest-remainder apportionment of `total` among the classes.
  std::vector<int64_t> take(classes.size());
  std::vector<std::pair<double, size_t>> remainders;
  int64_t assigned = 0;
  for (size_t c = 0; c < classes.size(); ++c) {
    const double exact = valid_fraction * static_cast<double>(classes[c].size());
    take[c] = static_cast<int64_t>(std::floor(exact));
    assigned += take[c];
    remainders.emplace_back(exact - std::floor(exact), c);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t r = 0; assigned < total && r < remainders.size(); ++r, ++assigned) {
    ++take[remainders[r].second];
  }
  Split split;
  for (size_t c = 0; c < classes.size(); ++c) {
    const auto& rows = classes[c];
    split.valid.insert(split.valid.end(), rows.begin(), rows.begin() + take[c]);
    split.train.insert(split.train.end(), rows.begin() + take[c], rows.end());
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.valid.begin(), split.valid.end());
  return split;
}

std::vector<Split> stratified_kfold(std::span<const int> labels, int k, uint64_t seed) {
  const auto n = static_cast<int64_t>(labels.size());
  if (k < 2 || k > n) {
    throw Error(ErrorKind::config, fmt::format("k-fold needs 2 <= k <= {} (the number of rows), got "
                                               "k = {}",
                                               n, k));
  }
  Generator gen(seed);
  std::vector<std::vector<int64_t>> classes = shuffled_classes(labels, gen);
  std::vector<int> fold_of(static_cast<size_t>(n));
  int next = 0;
  for (const auto& rows : classes) {
    for (int64_t row : rows) {
      fold_of[static_cast<size_t>(row)] = next;
      next = (next + 1) % k;
    }
  }
  std::vector<Split> folds(static_cast<size_t>(k));
  for (int64_t row = 0; row < n; ++row) {
    for (int f = 0; f < k; ++f) {
      auto& split = folds[static_cast<size_t>(f)];
      (fold_of[static_cast<size_t>(row)] == f ? split.valid : split.train).push_back(row);
    }
  }
  return folds;
}

std::vector<Split> repeated_stratified_kfold(std::span<const int> labels, int k, int repeats,
                                             uint64_t seed) {
  if (repeats < 1) {
    throw Error(ErrorKind::config, fmt::format("repeated k-fold needs at least one repeat, got {}", repeats));
  }
  std::vector<Split> out;
  for (int r = 0; r < repeats; ++r) {
    std::vector<Split> folds =
        stratified_kfold(labels, k, seed + static_cast<uint64_t>(r) * 0x9E3779B97F4A7C15ull);
    out.insert(out.end(), std::make_move_iterator(folds.begin()), std::make_move_iterator(folds.end()));
  }
  return out;
}

}  // namespace keel::data
