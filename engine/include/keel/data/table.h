// Table: named numeric columns over rows of doubles (a job's engineered features, say), with a
// CSV writer (a fixed, exact number format) and a strict reader for such files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace keel::data {

class Table {
 public:
  Table() = default;
  // Throws keel::Error (data) on an empty or duplicated column name.
  explicit Table(std::vector<std::string> columns);

  const std::vector<std::string>& columns() const { return columns_; }
  int64_t num_columns() const { return static_cast<int64_t>(columns_.size()); }
  int64_t num_rows() const { return static_cast<int64_t>(rows_.size()); }
  const std::vector<std::vector<double>>& rows() const { return rows_; }
  const std::vector<double>& row(int64_t r) const { return rows_.at(static_cast<size_t>(r)); }
  double at(int64_t r, int64_t c) const { return row(r).at(static_cast<size_t>(c)); }

  bool has_column(const std::string& name) const;
  // Position of `name`; throws keel::Error (data) listing the columns when there is none.
  int64_t column_index(const std::string& name) const;
  std::vector<double> column(const std::string& name) const;

  // Appends a row; throws keel::Error (runtime) unless it has num_columns() values.
  void add_row(std::vector<double> values);

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<double>> rows_;
};

// The table as CSV text in the format of the reference wrangled files: a header line, then one line
// per row, LF line ends. Values are written as integers when they are whole numbers, except the
// columns named "survived", which are written with one decimal ("0.0", "1.0") because pandas held
// them as floats; other non-integers use the shortest text that reads back to the same double.
std::string format_table_csv(const Table& table);
// Writes format_table_csv(table) to `path` atomically (temporary file, then rename).
void write_table_csv(const Table& table, const std::string& path);

// Reads a header + numbers CSV such as the wrangled files (no quoting, every cell a number).
// Throws keel::Error (data) naming file, line and column of a non-numeric cell or a row of the
// wrong length.
Table read_table_csv(const std::string& path);

}  // namespace keel::data
