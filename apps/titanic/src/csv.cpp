// Kaggle Titanic CSV reading on top of fast-cpp-csv-parser. The header is checked first by hand so
// that every message can give a column position; fccp's own exceptions become keel::Error.
#include "titanic/csv.h"

#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include <fmt/format.h>
// fccp copies file names with strncpy into fixed buffers and terminates them itself; GCC's
// truncation warning about that copy is noise (clang has no such warning).
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-truncation"
#endif
#include <libfccp/csv.h>
#pragma GCC diagnostic pop

#include "common/input_limits.h"
#include "data/io_util.h"
#include "keel/error.h"

namespace keel::data {

namespace {

constexpr unsigned kColumns = 12;
using QuotePolicy = io::double_quote_escape<',', '"'>;
using TrimPolicy = io::trim_chars<' ', '\t'>;
// Lines that are empty or only spaces and tabs (a trailing "\r" is already gone) are no rows: an
// editor's blank line at the end or between rows must not become a "too few fields" error.
using BlankLinePolicy = io::empty_line_comment;
using Reader =
    io::CSVReader<kColumns, TrimPolicy, QuotePolicy, io::throw_on_overflow, BlankLinePolicy>;

enum Col {
  kId,
  kSurvived,
  kPclass,
  kName,
  kSex,
  kAge,
  kSibSp,
  kParch,
  kTicket,
  kFare,
  kCabin,
  kEmbarked
};

const char* split_name(KaggleSplit split) {
  return split == KaggleSplit::train ? "train" : "test";
}

// Kaggle's train.csv is 61 KB, 892 lines of at most a few hundred bytes: these limits are far above
// any real file and keep a wrong or hostile one (gigabytes, one endless line) from exhausting
// memory before its first row is checked.
constexpr uint64_t kMaxFileBytes = uint64_t{64} << 20;
constexpr uint64_t kMaxLineBytes = uint64_t{1} << 20;
constexpr size_t kMaxRows = 100000;

keel::detail::TextFileLimits csv_limits(KaggleSplit split) {
  return {kMaxFileBytes, kMaxLineBytes, ErrorKind::data, "CSV file",
          fmt::format("Pass the Kaggle {}.csv (data/fetch_titanic.sh downloads it) or a file in "
                      "its format.",
                      split_name(split))};
}

const char* kHint =
    "Use the unmodified Kaggle file (data/fetch_titanic.sh downloads and checks it) or fix the "
    "value in the file.";

// The header a Kaggle file of this split has, for messages.
std::string expected_header(KaggleSplit split) {
  std::string out;
  for (const std::string& name : kaggle_columns()) {
    if (split == KaggleSplit::test && name == "Survived") continue;
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

// Splits the header line with fccp's own column rules (quotes, trimming), so the positions found
// here are the ones the row reader uses.
std::vector<std::string> split_header(char* line) {
  std::vector<std::string> names;
  while (line) {
    char* begin = nullptr;
    char* end = nullptr;
    io::detail::chop_next_column<QuotePolicy>(line, begin, end);
    TrimPolicy::trim(begin, end);
    QuotePolicy::unescape(begin, end);
    names.emplace_back(begin, end);
  }
  return names;
}

// Maps fccp's exceptions (which carry a line where they know one) to a keel data error.
[[noreturn]] void rethrow_fccp(const std::string& path, const io::error::base& e) {
  int line = -1;
  if (auto* with_line = dynamic_cast<const io::error::with_file_line*>(&e)) {
    line = with_line->file_line;
  }
  std::string what;
  if (dynamic_cast<const io::error::too_few_columns*>(&e)) {
    what =
        "this row has fewer fields than the header; a field probably lost its quotes or a "
        "comma is missing.";
  } else if (dynamic_cast<const io::error::too_many_columns*>(&e)) {
    what =
        "this row has more fields than the header; a name with a comma must be quoted "
        "(\"Braund, Mr. Owen Harris\").";
  } else if (dynamic_cast<const io::error::escaped_string_not_closed*>(&e)) {
    what = "a quoted field is not closed on this line (fields may not span lines).";
  } else {
    what = fmt::format("the CSV reader failed: {}.", e.what());
  }
  if (line > 0) throw detail::data_error_at(path, line, 0, "", fmt::format("{} {}", what, kHint));
  throw Error(ErrorKind::data, fmt::format("{}: {} {}", path, what, kHint));
}

// The first line that is not blank, or nullptr at the end of the file; `line_no` is its number.
char* next_nonblank_line(io::LineReader& reader, int64_t& line_no) {
  char* line = nullptr;
  do {
    line = reader.next_line();
  } while (line && BlankLinePolicy::is_comment(line));
  line_no = line ? reader.get_file_line() : 0;
  return line;
}

// A header column that is no schema column: ignored, but remembered for the caller's note. A test
// file with labels is refused instead, because it most likely is the train file passed by mistake.
void note_unused_column(KaggleTable& table, const std::string& name, int64_t line, int column) {
  if (table.split == KaggleSplit::test && name == "Survived") {
    throw detail::data_error_at(
        table.path, line, column, "",
        "the test file has a Survived column, but the test file holds the passengers to predict, "
        "without labels. Check that train.csv and test.csv are not swapped, or remove the column.");
  }
  table.ignored_columns.push_back(fmt::format("\"{}\" (column {})", name, column));
}

// Finds every schema column in the header by name (any order) and refuses a header that is empty,
// names a column twice or lacks one the pipeline needs. Columns it does not know are ignored.
void read_header(const std::string& path, KaggleSplit split, KaggleTable& table) {
  const auto& names = kaggle_columns();
  io::LineReader header_reader(path);
  int64_t line_no = 0;
  char* line = next_nonblank_line(header_reader, line_no);
  if (!line) {
    throw Error(ErrorKind::data,
                fmt::format("{} is empty (no header line). Expected the Kaggle {} file with "
                            "the header {}; download it again with data/fetch_titanic.sh.",
                            path, split_name(split), expected_header(split)));
  }
  const std::vector<std::string> header = split_header(line);
  for (size_t pos = 0; pos < header.size(); ++pos) {
    const int column = static_cast<int>(pos) + 1;
    const auto first =
        std::find(header.begin(), header.begin() + static_cast<std::ptrdiff_t>(pos), header[pos]);
    if (first != header.begin() + static_cast<std::ptrdiff_t>(pos)) {
      throw detail::data_error_at(path, line_no, column, "",
                                  fmt::format("column \"{}\" appears twice in the header (first "
                                              "as column {}); remove or rename one of them.",
                                              header[pos], first - header.begin() + 1));
    }
    auto it = std::find(names.begin(), names.end(), header[pos]);
    const bool survived_in_test =
        split == KaggleSplit::test && it != names.end() && (it - names.begin()) == kSurvived;
    if (it == names.end() || survived_in_test) {
      note_unused_column(table, header[pos], line_no, column);
      continue;
    }
    table.column_positions[static_cast<size_t>(it - names.begin())] = column;
  }
  if (split == KaggleSplit::train && table.column_positions[kSurvived] == 0) {
    throw detail::data_error_at(
        path, line_no, 0, "",
        "this train file has no Survived column, so there are no labels to learn from. Pass "
        "the Kaggle train.csv here (test.csv is the file without Survived).");
  }
  for (unsigned i = 0; i < kColumns; ++i) {
    if (i == kSurvived || table.column_positions[i] != 0) continue;
    throw detail::data_error_at(
        path, line_no, 0, "",
        fmt::format("the header has no column \"{}\". The Kaggle {} file needs the columns "
                    "{} (in any order; other columns are ignored); download it again with "
                    "data/fetch_titanic.sh.",
                    names[i], split_name(split), expected_header(split)));
  }
}

}  // namespace

const std::vector<std::string>& kaggle_columns() {
  static const std::vector<std::string> names = {"PassengerId", "Survived", "Pclass", "Name",
                                                 "Sex",         "Age",      "SibSp",  "Parch",
                                                 "Ticket",      "Fare",     "Cabin",  "Embarked"};
  return names;
}

int KaggleTable::column_of(const std::string& name) const {
  const auto& names = kaggle_columns();
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end() || column_positions.size() != names.size()) return 0;
  return column_positions[static_cast<size_t>(it - names.begin())];
}

std::string ignored_columns_note(const KaggleTable& table) {
  const size_t n = table.ignored_columns.size();
  if (n == 0) return "";
  return fmt::format("note: {}: ignored {} column{} the pipeline does not use: {}", table.path, n,
                     n == 1 ? "" : "s", fmt::join(table.ignored_columns, ", "));
}

KaggleTable read_kaggle_csv(const std::string& path, KaggleSplit split) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw Error(
        ErrorKind::data,
        fmt::format("{} not found: run data/fetch_titanic.sh or pass --data with the folder "
                    "that holds the Kaggle {}.csv",
                    path, split_name(split)));
  }
  keel::detail::check_text_file_limits(path, csv_limits(split));
  const auto& names = kaggle_columns();
  KaggleTable table;
  table.path = path;
  table.split = split;
  table.column_positions.assign(kColumns, 0);

  try {
    read_header(path, split, table);

    // ---- rows ----
    Reader reader(path);
    reader.read_header(io::ignore_missing_column | io::ignore_extra_column, names[0], names[1],
                       names[2], names[3], names[4], names[5], names[6], names[7], names[8],
                       names[9], names[10], names[11]);
    std::unordered_map<int64_t, int64_t> id_lines;
    char* f[kColumns];
    for (;;) {
      std::fill(f, f + kColumns, nullptr);
      if (!reader.read_row(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10],
                           f[11])) {
        break;
      }
      const int64_t line = reader.get_file_line();
      if (table.rows.size() == kMaxRows) {
        throw detail::data_error_at(
            path, line, 0, "",
            fmt::format("the file has more than {} passenger rows, the most keel reads (the "
                        "Kaggle {} file has {}). Pass the Kaggle {}.csv or split the file.",
                        kMaxRows, split_name(split), split == KaggleSplit::train ? 891 : 418,
                        split_name(split)));
      }
      auto field = [&](int c) { return std::string_view(f[c] ? f[c] : ""); };
      auto fail = [&](int c, const std::string& problem) {
        throw detail::data_error_at(path, line, table.column_positions[static_cast<size_t>(c)],
                                    names[static_cast<size_t>(c)], problem);
      };
      auto required_int = [&](int c, const char* meaning) -> int64_t {
        std::string_view text = field(c);
        if (text.empty())
          fail(c, fmt::format("the value is missing; {} is required. {}", meaning, kHint));
        auto v = detail::parse_int(text);
        if (!v) {
          fail(c, fmt::format("\"{}\" is not a whole number ({} expected). {}",
                              keel::detail::abbreviated(text), meaning, kHint));
        }
        return *v;
      };
      auto optional_number = [&](int c, const char* meaning) -> std::optional<double> {
        std::string_view text = field(c);
        if (text.empty()) return std::nullopt;
        auto v = detail::parse_double(text);
        if (!v) {
          fail(c, fmt::format("\"{}\" is not a number ({} expected, or an empty field for a "
                              "missing value). {}",
                              keel::detail::abbreviated(text), meaning, kHint));
        }
        return v;
      };

      Passenger p;
      p.line = line;
      p.passenger_id = required_int(kId, "a passenger id");
      if (auto [it, inserted] = id_lines.emplace(p.passenger_id, line); !inserted) {
        fail(kId, fmt::format("PassengerId {} already appeared on line {}; every passenger id must "
                              "be unique. Remove the duplicated row.",
                              p.passenger_id, it->second));
      }
      if (split == KaggleSplit::train) {
        int64_t s = required_int(kSurvived, "0 or 1");
        if (s != 0 && s != 1)
          fail(kSurvived, fmt::format("Survived is {}, but must be 0 or 1. {}", s, kHint));
        p.survived = static_cast<int>(s);
      }
      int64_t pclass = required_int(kPclass, "a ticket class 1, 2 or 3");
      if (pclass < 1 || pclass > 3) {
        fail(kPclass, fmt::format("Pclass is {}, but must be 1, 2 or 3. {}", pclass, kHint));
      }
      p.pclass = static_cast<int>(pclass);
      p.name = std::string(field(kName));
      if (p.name.empty()) fail(kName, fmt::format("the passenger name is empty. {}", kHint));
      std::string_view sex = field(kSex);
      if (sex == "female") {
        p.female = true;
      } else if (sex == "male") {
        p.female = false;
      } else {
        fail(kSex, fmt::format("unknown Sex value \"{}\"; it must be \"male\" or \"female\". {}",
                               keel::detail::abbreviated(sex), kHint));
      }
      p.age = optional_number(kAge, "an age in years");
      int64_t sibsp = required_int(kSibSp, "a count of siblings and spouses aboard");
      int64_t parch = required_int(kParch, "a count of parents and children aboard");
      if (sibsp < 0 || sibsp > 1000)
        fail(kSibSp,
             fmt::format("SibSp is {}, but must be a count from 0 to 1000. {}", sibsp, kHint));
      if (parch < 0 || parch > 1000)
        fail(kParch,
             fmt::format("Parch is {}, but must be a count from 0 to 1000. {}", parch, kHint));
      p.sibsp = static_cast<int>(sibsp);
      p.parch = static_cast<int>(parch);
      p.ticket = std::string(field(kTicket));
      if (p.ticket.empty()) fail(kTicket, fmt::format("the ticket is empty. {}", kHint));
      p.fare = optional_number(kFare, "a fare");
      p.cabin = std::string(field(kCabin));
      p.embarked = std::string(field(kEmbarked));
      if (!p.embarked.empty() && p.embarked != "C" && p.embarked != "Q" && p.embarked != "S") {
        fail(kEmbarked,
             fmt::format("unknown Embarked value \"{}\"; it must be C, Q, S or empty for "
                         "a missing port. {}",
                         keel::detail::abbreviated(p.embarked), kHint));
      }
      table.rows.push_back(std::move(p));
    }
  } catch (const io::error::base& e) {
    rethrow_fccp(path, e);
  }
  if (table.rows.empty()) {
    throw detail::data_error_at(path, 1, 0, "",
                                fmt::format("the file has a header but no passenger rows. Use the "
                                            "Kaggle {}.csv (data/fetch_titanic.sh downloads it).",
                                            split_name(split)));
  }
  return table;
}

}  // namespace keel::data
