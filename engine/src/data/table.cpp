// Table storage and its CSV form. The writer reproduces the reference files byte for byte so that
// a plain diff can check keel's features; the reader uses fccp's line reader (CRLF, BOM handled).
#include "keel/data/table.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unordered_set>

#include <fmt/format.h>
// fccp copies file names with strncpy into fixed buffers and terminates them itself; GCC's
// truncation warning about that copy is noise.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-truncation"
#include <libfccp/csv.h>
#pragma GCC diagnostic pop

#include "data/io_util.h"
#include "keel/error.h"

namespace keel::data {

Table::Table(std::vector<std::string> columns) : columns_(std::move(columns)) {
  std::unordered_set<std::string> seen;
  for (const std::string& name : columns_) {
    if (name.empty()) {
      throw Error(ErrorKind::data, "a table column has an empty name; every column needs one");
    }
    if (!seen.insert(name).second) {
      throw Error(ErrorKind::data,
                  fmt::format("the column name \"{}\" occurs twice in one table; two source "
                              "values that differ only in letter case give the same dummy column",
                              name));
    }
  }
}

bool Table::has_column(const std::string& name) const {
  return std::find(columns_.begin(), columns_.end(), name) != columns_.end();
}

int64_t Table::column_index(const std::string& name) const {
  auto it = std::find(columns_.begin(), columns_.end(), name);
  if (it == columns_.end()) {
    throw Error(ErrorKind::data, fmt::format("no column \"{}\" in the feature table; its columns "
                                             "are: {}",
                                             name, fmt::join(columns_, ", ")));
  }
  return it - columns_.begin();
}

std::vector<double> Table::column(const std::string& name) const {
  const auto c = static_cast<size_t>(column_index(name));
  std::vector<double> out;
  out.reserve(rows_.size());
  for (const auto& r : rows_) out.push_back(r[c]);
  return out;
}

void Table::add_row(std::vector<double> values) {
  if (values.size() != columns_.size()) {
    throw Error(ErrorKind::runtime, fmt::format("a table row has {} values for {} columns",
                                                values.size(), columns_.size()));
  }
  rows_.push_back(std::move(values));
}

namespace {

void append_value(std::string& out, double v, bool one_decimal) {
  if (one_decimal && v == std::floor(v) && std::abs(v) < 1e15) {
    fmt::format_to(std::back_inserter(out), "{:.1f}", v);
  } else if (v == std::floor(v) && std::abs(v) < 9e15) {
    fmt::format_to(std::back_inserter(out), "{}", static_cast<int64_t>(v));
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);  // shortest round-trip form
  }
}

}  // namespace

std::string format_table_csv(const Table& table) {
  std::string out;
  out += fmt::format("{}\n", fmt::join(table.columns(), ","));
  std::vector<bool> one_decimal;
  for (const auto& name : table.columns()) one_decimal.push_back(name == "survived");
  for (const auto& row : table.rows()) {
    for (size_t c = 0; c < row.size(); ++c) {
      if (c) out += ',';
      append_value(out, row[c], one_decimal[c]);
    }
    out += '\n';
  }
  return out;
}

void write_table_csv(const Table& table, const std::string& path) {
  detail::write_file_atomic(path, format_table_csv(table));
}

namespace {

// Empty, or only spaces and tabs (the line reader has already dropped a trailing "\r").
bool is_blank(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos; }

std::vector<std::string_view> split_cells(std::string_view line) {
  std::vector<std::string_view> cells;
  size_t start = 0;
  for (;;) {
    size_t comma = line.find(',', start);
    cells.push_back(line.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return cells;
}

// The header's names; a name given twice is refused here, where its line and column are known.
std::vector<std::string> read_header_names(const std::string& path, int64_t line_no, std::string_view line) {
  std::vector<std::string> names;
  for (std::string_view cell : split_cells(line)) {
    auto first = std::find(names.begin(), names.end(), cell);
    if (first != names.end()) {
      throw detail::data_error_at(path, line_no, static_cast<int>(names.size()) + 1, cell,
                                  fmt::format("column \"{}\" appears twice in the header (first as "
                                              "column {}); remove or rename one of them",
                                              cell, first - names.begin() + 1));
    }
    names.emplace_back(cell);
  }
  return names;
}

std::vector<double> parse_row(const std::string& path, int64_t line_no, std::string_view line,
                              const Table& table) {
  std::vector<std::string_view> cells = split_cells(line);
  if (cells.size() != static_cast<size_t>(table.num_columns())) {
    throw detail::data_error_at(path, line_no, 0, "",
                                fmt::format("the row has {} values but the header names {} "
                                            "columns; every row needs one value per column",
                                            cells.size(), table.num_columns()));
  }
  std::vector<double> values;
  values.reserve(cells.size());
  for (size_t c = 0; c < cells.size(); ++c) {
    auto v = detail::parse_double(cells[c]);
    if (!v) {
      throw detail::data_error_at(path, line_no, static_cast<int>(c) + 1, table.columns()[c],
                                  fmt::format("\"{}\" is not a number; every cell of a "
                                              "feature table must be numeric",
                                              cells[c]));
    }
    values.push_back(*v);
  }
  return values;
}

}  // namespace

Table read_table_csv(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(ErrorKind::data, fmt::format("{} not found; check the path", path));
  }
  try {
    io::LineReader reader(path);
    char* line = nullptr;
    while ((line = reader.next_line()) != nullptr && is_blank(line)) {
    }
    if (!line) {
      throw Error(ErrorKind::data, fmt::format("{} is empty; expected a header line of column "
                                               "names followed by rows of numbers",
                                               path));
    }
    Table table(read_header_names(path, reader.get_file_line(), line));
    while ((line = reader.next_line()) != nullptr) {
      if (is_blank(line)) continue;  // a blank line (e.g. trailing) carries no row
      table.add_row(parse_row(path, reader.get_file_line(), line, table));
    }
    return table;
  } catch (const io::error::base& e) {
    throw Error(ErrorKind::data, fmt::format("{}: reading failed: {}", path, e.what()));
  }
}

}  // namespace keel::data
