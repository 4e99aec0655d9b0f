// Features fitted inside a fold: everything learned from labels (the logistic ranking, the group
// survival columns) reads only the labels of the rows a model trains on, so a fold's held-out
// rows, and the test rows, never shape their own features.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/tensor.h"
#include "titanic/features.h"
#include "titanic/group_survival.h"
#include "titanic/selection.h"

namespace keel::data {

// The wrangled tables with what the label-dependent features need: group keys and the labels.
class FeatureSource {
 public:
  explicit FeatureSource(TitanicTables tables);

  const TitanicTables& tables() const { return tables_; }
  const std::vector<int>& labels() const { return labels_; }
  int64_t train_rows() const { return tables_.train.num_rows(); }
  std::vector<int64_t> all_train_rows() const;

  // True when `selection` reads labels: a ranking, or a list naming a group survival column.
  bool label_dependent(const FeatureSelection& selection) const;

  // Train rows `rows` (wrangled columns, then the group columns counting the labels of `known`;
  // a row that is itself known is left out of its own groups), without the survived column.
  Table train_table(const std::vector<int64_t>& rows, const std::vector<int64_t>& known) const;
  // Every test row, the group columns counting the labels of `known`.
  Table test_table(const std::vector<int64_t>& known) const;
  // The train rows `known` as train_table(known, known) gives them, with their survived column
  // second, as in the wrangled train CSV.
  Table labelled_train_table(const std::vector<int64_t>& known) const;

  // The selection fitted on the `known` rows: a list is checked (group columns allowed), a
  // ranking is fitted on the known rows only; its candidates default to the wrangled columns
  // (the group columns join the ranking only when listed in selection.candidates).
  std::vector<std::string> select(const FeatureSelection& selection,
                                  const std::vector<int64_t>& known,
                                  FeatureRanking* ranking = nullptr) const;

 private:
  TitanicTables tables_;
  GroupKeys keys_;
  std::vector<int> labels_;
};

// Images of one fitted model's view of the data.
struct FoldImages {
  std::vector<std::string> features;  // in pixel order
  FeatureRanking ranking;             // set when the selection ranks
  Tensor train_images;                // (N, C, S, S): every train row, group columns from `known`
  Tensor test_images;                 // (T, C, S, S): group columns from `test_known`
};

// Fits the selection on `known` and encodes every train row (counting `known` labels) and every
// test row (counting `test_known` labels, usually all labelled rows).
FoldImages fold_images(const FeatureSource& source, const FeatureSelection& selection, int channels,
                       const std::vector<int64_t>& known, const std::vector<int64_t>& test_known);

}  // namespace keel::data
