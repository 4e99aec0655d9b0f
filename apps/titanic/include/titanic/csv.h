// Reading the Kaggle Titanic train.csv / test.csv schema into typed passenger records, with
// validation errors that name the file, line and column of the first bad cell.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace keel::data {

// Which Kaggle file a CSV is: the train file carries Survived, the test file must not.
enum class KaggleSplit { train, test };

// One row of train.csv or test.csv. Empty fields are missing values (nullopt / empty string).
struct Passenger {
  int64_t passenger_id = 0;
  std::optional<int> survived;  // 0 or 1 in the train file; nullopt in the test file
  int pclass = 0;               // 1, 2 or 3
  std::string name;             // unquoted, e.g. "Braund, Mr. Owen Harris"
  bool female = false;          // Sex: "female" or "male"
  std::optional<double> age;
  int sibsp = 0;
  int parch = 0;
  std::string ticket;
  std::optional<double> fare;
  std::string cabin;     // empty when missing
  std::string embarked;  // "C", "Q", "S", or empty when missing
  int64_t line = 0;      // line in the source file (the header is line 1), for messages
};

struct KaggleTable {
  std::string path;  // the file it was read from, as given
  KaggleSplit split = KaggleSplit::train;
  std::vector<Passenger> rows;
  // 1-based position of each schema column in the file's header, in the order of
  // kaggle_columns(); 0 for Survived in a test file. Used to point messages at a column.
  std::vector<int> column_positions;
  // Header columns outside the schema, which the pipeline ignores, as `"Deck" (column 13)`.
  std::vector<std::string> ignored_columns;

  // 1-based header position of a schema column ("Age"), for error messages.
  int column_of(const std::string& name) const;
};

// The schema columns, in Kaggle's order: PassengerId, Survived, Pclass, Name, Sex, Age, SibSp,
// Parch, Ticket, Fare, Cabin, Embarked.
const std::vector<std::string>& kaggle_columns();

// Reads and validates one Kaggle file (fast-cpp-csv-parser: quoted fields with commas and doubled
// quotes, CRLF or LF line ends, a UTF-8 byte-order mark). Columns may come in any order; columns
// outside the schema are skipped and listed in ignored_columns; blank lines (empty, or only spaces
// and tabs) anywhere are skipped, and line numbers in messages still count them.
// Throws keel::Error (ErrorKind::data) naming file, line and column for: a missing file, an empty
// file, missing or duplicated columns, a train file without Survived, a test file with Survived,
// a row with too few or
// too many fields, a non-numeric PassengerId/Survived/Pclass/Age/SibSp/Parch/Fare, a value out of
// its domain (Survived not 0/1, Pclass not 1..3, negative SibSp/Parch), an unknown Sex or Embarked
// value, an empty Name/Ticket/Sex, and a duplicate PassengerId.
KaggleTable read_kaggle_csv(const std::string& path, KaggleSplit split);

// One line for the run's log about table.ignored_columns ("note: <file>: ignored 1 column the
// pipeline does not use: ..."); empty when nothing was ignored.
std::string ignored_columns_note(const KaggleTable& table);

}  // namespace keel::data
