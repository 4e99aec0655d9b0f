// Fold-local features: the wrangled columns joined with group survival columns computed from the
// known rows only, and the feature selection fitted on those rows.
#include "titanic/fold_features.h"

#include <fmt/format.h>

#include "keel/data/square_image.h"
#include "keel/error.h"

namespace keel::data {

namespace {

std::vector<std::string> joined_columns(const Table& base, bool with_survived) {
  std::vector<std::string> names;
  for (const auto& name : base.columns()) {
    if (with_survived || name != "survived") names.push_back(name);
  }
  for (const auto& name : group_survival_columns()) names.push_back(name);
  return names;
}

// base rows (without survived) side by side with the group table's rows.
Table join(const Table& base, const std::vector<int64_t>& rows, const Table& groups) {
  Table out(joined_columns(base, false));
  const int64_t survived = base.has_column("survived") ? base.column_index("survived") : -1;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& b = base.row(rows[i]);
    std::vector<double> row;
    row.reserve(static_cast<size_t>(out.num_columns()));
    for (size_t c = 0; c < b.size(); ++c) {
      if (static_cast<int64_t>(c) != survived) row.push_back(b[c]);
    }
    const auto& g = groups.row(static_cast<int64_t>(i));
    row.insert(row.end(), g.begin(), g.end());
    out.add_row(std::move(row));
  }
  return out;
}

std::vector<int64_t> iota_rows(int64_t n, int64_t first = 0) {
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = first + i;
  return rows;
}

}  // namespace

FeatureSource::FeatureSource(TitanicTables tables) : tables_(std::move(tables)) {
  labels_ = survived_labels(tables_.train);
  if (static_cast<int64_t>(tables_.passengers.size()) !=
      tables_.train.num_rows() + tables_.test.num_rows()) {
    throw Error(ErrorKind::runtime, "FeatureSource: the tables carry no passengers to group");
  }
  keys_ = group_keys(tables_.passengers, tables_.train.num_rows());
}

std::vector<int64_t> FeatureSource::all_train_rows() const {
  return iota_rows(train_rows());
}

bool FeatureSource::label_dependent(const FeatureSelection& selection) const {
  if (selection.method == FeatureSelection::Method::logistic_ranking) return true;
  for (const auto& name : selection.features) {
    if (is_group_survival_column(name)) return true;
  }
  return false;
}

Table FeatureSource::train_table(const std::vector<int64_t>& rows,
                                 const std::vector<int64_t>& known) const {
  return join(tables_.train, rows, group_survival_table(keys_, labels_, known, rows));
}

Table FeatureSource::test_table(const std::vector<int64_t>& known) const {
  const std::vector<int64_t> rows = iota_rows(tables_.test.num_rows());
  const std::vector<int64_t> targets = iota_rows(tables_.test.num_rows(), train_rows());
  return join(tables_.test, rows, group_survival_table(keys_, labels_, known, targets));
}

Table FeatureSource::labelled_train_table(const std::vector<int64_t>& known) const {
  const Table fitted = train_table(known, known);
  std::vector<std::string> names = fitted.columns();
  names.insert(names.begin() + 1, "survived");
  Table labelled(names);
  for (size_t i = 0; i < known.size(); ++i) {
    std::vector<double> row = fitted.row(static_cast<int64_t>(i));
    row.insert(row.begin() + 1, labels_[static_cast<size_t>(known[i])]);
    labelled.add_row(std::move(row));
  }
  return labelled;
}

std::vector<std::string> FeatureSource::select(const FeatureSelection& selection,
                                               const std::vector<int64_t>& known,
                                               FeatureRanking* ranking) const {
  // The ranking reads labels: the known rows' labels as a survived column.
  const Table labelled = labelled_train_table(known);
  FeatureSelection s = selection;
  if (s.method == FeatureSelection::Method::logistic_ranking && s.candidates.empty()) {
    s.candidates = feature_columns(tables_.train);
  }
  return select_features(labelled, s, ranking);
}

FoldImages fold_images(const FeatureSource& source, const FeatureSelection& selection, int channels,
                       const std::vector<int64_t>& known, const std::vector<int64_t>& test_known) {
  FoldImages out;
  out.features = source.select(selection, known, &out.ranking);
  out.train_images =
      encode_images(source.train_table(source.all_train_rows(), known), out.features, channels);
  out.test_images = encode_images(source.test_table(test_known), out.features, channels);
  return out;
}

}  // namespace keel::data
