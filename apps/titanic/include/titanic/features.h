// Titanic feature engineering (PIPELINE.md §1): Kaggle passengers -> the wrangled 49/48-column
// tables, and write_features, the library side of `titanic_train --features-only`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "keel/data/square_image.h"
#include "keel/data/table.h"
#include "titanic/csv.h"
#include "titanic/selection.h"

namespace keel::data {

// The title of a name: the first run of letters that follows a space and is followed by a dot
// (regex " ([A-Za-z]+)\."), e.g. "Mr" in "Braund, Mr. Owen Harris"; nullopt when there is none.
std::optional<std::string> extract_title(const std::string& name);
// The group of a title (Mr -> mr, Ms -> mme, Dr -> officer, Sir -> royalty_male, ...); nullopt
// for a title outside the table of PIPELINE.md §1.
std::optional<std::string> title_group(const std::string& title);

// Wrangled tables. Both have the same feature columns; train has `survived` as its second column.
struct TitanicTables {
  Table train;  // passengerid, survived, psex, pclass_1, ... (49 columns for the Kaggle files)
  Table test;   // passengerid, psex, pclass_1, ...           (48 columns)
  // Lines for the run's log, e.g. the columns of either file that were ignored. The library has no
  // logger of its own, so the caller prints them.
  std::vector<std::string> notes;
  // The passengers as read, train rows then test rows: the group survival features
  // (group_survival.h) need their names, tickets and cabins, which the wrangled columns drop.
  std::vector<Passenger> passengers;
};

// Feature engineering exactly as PIPELINE.md §1 on train followed by test. Dummy columns of plain
// values (pclass, title, sex, family, cabin, embarked) exist for the values that occur in train +
// test, sorted, as pandas.get_dummies makes them; binned columns (age_cat, fare_cat) always list
// every bin. An age or fare outside the bin edges gets no bin (all its dummies 0), as in
// pandas.cut. Every missing fare is filled with the recipe's mean (pclass 3, male, 55 < age < 65).
// Throws keel::Error (data) naming file, line, column and passenger for: a name without a title
// or with a title that maps to no group, a ticket whose last token is not a number (other than
// "LINE"), a PassengerId present in both files, and a missing fare when no passenger matches the
// recipe's profile.
TitanicTables wrangle_titanic(const KaggleTable& train, const KaggleTable& test);

// Reads <data_dir>/train.csv and <data_dir>/test.csv and wrangles them. A missing file is an error
// that says "run data/fetch_titanic.sh or pass --data".
TitanicTables load_titanic(const std::string& data_dir);

// Names of the feature columns a model may use: every column except passengerid and survived.
std::vector<std::string> feature_columns(const Table& table);
// The train labels (the survived column) as integers 0/1.
std::vector<int> survived_labels(const Table& train);

// What write_features produced.
struct FeatureOutputs {
  std::string train_csv;                  // <out>/titanic_train_wrangled.csv
  std::string test_csv;                   // <out>/titanic_test_wrangled.csv
  std::vector<std::string> features;      // the selected features, in pixel order
  std::optional<FeatureRanking> ranking;  // set when the selection ranked the features
  int64_t train_images = 0;
  int64_t test_images = 0;
  int side = 0;                    // image side S
  std::vector<std::string> notes;  // TitanicTables::notes, for the caller to log
};

// The library side of `titanic_train --features-only`: reads the Kaggle files in data_dir, writes
// both wrangled CSVs into out_dir with the group survival columns appended, computed as a run's
// test rows get them: from every train row's label, a train row's own label left out (so the
// columns of a train row never read its own survival), and all PNGs (write_png_images) for the
// selected features (a ranking fitted on every train row).
FeatureOutputs write_features(const std::string& data_dir, const std::string& out_dir,
                              const FeatureSelection& selection);

}  // namespace keel::data
