// Titanic feature engineering as PIPELINE.md §1 describes it, written as plain loops over the
// concatenated passengers so each rule can be read against the recipe line by line.
#include "titanic/features.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "data/io_util.h"
#include "keel/error.h"

namespace keel::data {

namespace {

bool is_letter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// A column under construction: a name and one value per passenger (train rows, then test rows).
struct Column {
  std::string name;
  std::vector<double> values;
};

// pandas.get_dummies of plain values: one 0/1 column per distinct key, in `less` order.
template <typename Key, typename Less = std::less<Key>>
void append_dummies(std::vector<Column>& out, const std::string& prefix,
                    const std::vector<Key>& keys,
                    const std::function<std::string(const Key&)>& label, Less less = Less()) {
  std::vector<Key> distinct = keys;
  std::sort(distinct.begin(), distinct.end(), less);
  distinct.erase(
      std::unique(distinct.begin(), distinct.end(),
                  [&](const Key& a, const Key& b) { return !less(a, b) && !less(b, a); }),
      distinct.end());
  for (const Key& d : distinct) {
    Column col{prefix + "_" + label(d), {}};
    col.values.reserve(keys.size());
    for (const Key& k : keys) col.values.push_back(!less(k, d) && !less(d, k) ? 1.0 : 0.0);
    out.push_back(std::move(col));
  }
}

// pandas.cut with right-closed bins (edges[i], edges[i+1]] named names[i], then get_dummies of the
// categorical: every bin gets a column, values outside all bins get none.
void append_bins(std::vector<Column>& out, const std::string& prefix,
                 const std::vector<double>& values, const std::vector<double>& edges,
                 const std::vector<std::string>& names) {
  for (size_t b = 0; b < names.size(); ++b) {
    Column col{prefix + "_" + names[b], {}};
    col.values.reserve(values.size());
    for (double v : values) col.values.push_back(v > edges[b] && v <= edges[b + 1] ? 1.0 : 0.0);
    out.push_back(std::move(col));
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::optional<std::string> extract_title(const std::string& name) {
  // Leftmost match of " ([A-Za-z]+)\.": for a space at i the letter run must be maximal, because a
  // shorter run would be followed by a letter rather than the dot.
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] != ' ') continue;
    size_t j = i + 1;
    while (j < name.size() && is_letter(name[j])) ++j;
    if (j > i + 1 && j < name.size() && name[j] == '.') return name.substr(i + 1, j - i - 1);
  }
  return std::nullopt;
}

std::optional<std::string> title_group(const std::string& title) {
  static const std::map<std::string, std::string> groups = {{"Mr", "mr"},
                                                            {"Mme", "mme"},
                                                            {"Ms", "mme"},
                                                            {"Mrs", "mrs"},
                                                            {"Master", "master"},
                                                            {"Mlle", "miss"},
                                                            {"Miss", "miss"},
                                                            {"Capt", "officer"},
                                                            {"Col", "officer"},
                                                            {"Major", "officer"},
                                                            {"Dr", "officer"},
                                                            {"Rev", "officer"},
                                                            {"Jonkheer", "royalty_male"},
                                                            {"Don", "royalty_male"},
                                                            {"Sir", "royalty_male"},
                                                            {"Countess", "royalty_female"},
                                                            {"Dona", "royalty_female"},
                                                            {"Lady", "royalty_female"}};
  auto it = groups.find(title);
  if (it == groups.end()) return std::nullopt;
  return it->second;
}

TitanicTables wrangle_titanic(const KaggleTable& train, const KaggleTable& test) {
  // The rows in recipe order, each with the table it came from (for messages).
  std::vector<std::pair<const Passenger*, const KaggleTable*>> all;
  for (const auto& p : train.rows) all.emplace_back(&p, &train);
  for (const auto& p : test.rows) all.emplace_back(&p, &test);
  const size_t n = all.size();
  const size_t n_train = train.rows.size();

  auto fail = [](const Passenger& p, const KaggleTable& src, const char* column,
                 const std::string& problem) {
    throw detail::data_error_at(src.path, p.line, src.column_of(column), column, problem);
  };

  {
    std::unordered_map<int64_t, int64_t> train_ids;
    for (const auto& p : train.rows) train_ids.emplace(p.passenger_id, p.line);
    for (const auto& p : test.rows) {
      if (auto it = train_ids.find(p.passenger_id); it != train_ids.end()) {
        fail(p, test, "PassengerId",
             fmt::format("PassengerId {} is also on line {} of {}; the train and test files must "
                         "hold different passengers. Check that the two files are not swapped or "
                         "copies of each other.",
                         p.passenger_id, it->second, train.path));
      }
    }
  }

  // ---- per-passenger derived values ----
  std::vector<std::string> title(n);
  std::vector<double> age(n), fare(n);
  std::vector<int64_t> ticket_number(n);
  for (size_t i = 0; i < n; ++i) {
    const Passenger& p = *all[i].first;
    const KaggleTable& src = *all[i].second;
    auto t = extract_title(p.name);
    if (!t) {
      fail(
          p, src, "Name",
          fmt::format("the name \"{}\" has no title (a word followed by a dot after a space, such "
                      "as \"Mr.\"), so the passenger cannot be grouped. Add the title to the name.",
                      p.name));
    }
    auto g = title_group(*t);
    if (!g) {
      fail(
          p, src, "Name",
          fmt::format("the title \"{}\" of \"{}\" maps to no title group (known titles: Mr, Mrs, "
                      "Miss, Master, Mme, Ms, Mlle, Capt, Col, Major, Dr, Rev, Jonkheer, Don, Sir, "
                      "Countess, Dona, Lady). Correct the name's title.",
                      *t, p.name));
    }
    title[i] = *g;
    age[i] = p.age ? *p.age : (title[i] == "master" ? 1.0 : -0.5);

    // Ticket number: the last space-separated token; "LINE" (crew tickets) counts as 0.
    const size_t space = p.ticket.rfind(' ');
    const std::string token = space == std::string::npos ? p.ticket : p.ticket.substr(space + 1);
    if (token == "LINE") {
      ticket_number[i] = 0;
    } else if (auto v = detail::parse_int(token); v && token[0] != '-' && token[0] != '+') {
      ticket_number[i] = *v;
    } else {
      fail(p, src, "Ticket",
           fmt::format("the ticket \"{}\" does not end in a ticket number (its last "
                       "space-separated part \"{}\" is not a whole number); the ticket group needs "
                       "one. Correct the ticket.",
                       p.ticket, token));
    }
  }

  // The recipe's fill for the missing fare (PassengerId 1044): mean fare of third-class men aged
  // strictly between 55 and 65, over the passengers whose fare is known.
  double fare_fill = 0.0;
  {
    double sum = 0.0;
    int count = 0;
    for (size_t i = 0; i < n; ++i) {
      const Passenger& p = *all[i].first;
      if (p.pclass == 3 && !p.female && age[i] > 55 && age[i] < 65 && p.fare) {
        sum += *p.fare;
        ++count;
      }
    }
    if (count > 0) fare_fill = sum / count;
    for (size_t i = 0; i < n; ++i) {
      const Passenger& p = *all[i].first;
      if (p.fare) {
        fare[i] = *p.fare;
      } else if (count == 0) {
        fail(p, *all[i].second, "Fare",
             "the fare is missing and no third-class man aged 56-64 with a known fare exists to "
             "fill it from (the recipe's rule). Fill in the fare.");
      } else {
        fare[i] = fare_fill;
      }
    }
  }

  // ---- columns, in the order of the reference files ----
  std::vector<Column> cols;
  auto push = [&](std::string name, auto&& value_of) {
    Column c{std::move(name), {}};
    c.values.reserve(n);
    for (size_t i = 0; i < n; ++i) c.values.push_back(value_of(i));
    cols.push_back(std::move(c));
  };
  auto at = [&](size_t i) -> const Passenger& { return *all[i].first; };

  push("passengerid", [&](size_t i) { return static_cast<double>(at(i).passenger_id); });
  push("psex",
       [&](size_t i) { return static_cast<double>(at(i).pclass + (at(i).female ? 1 : 0)); });

  std::vector<int> pclass(n);
  for (size_t i = 0; i < n; ++i) pclass[i] = at(i).pclass;
  append_dummies<int>(cols, "pclass", pclass, [](const int& v) { return std::to_string(v); });

  append_dummies<std::string>(cols, "title", title, [](const std::string& v) { return v; });

  std::vector<std::string> sex(n);
  for (size_t i = 0; i < n; ++i) sex[i] = at(i).female ? "female" : "male";
  append_dummies<std::string>(cols, "sex", sex, [](const std::string& v) { return v; });

  append_bins(cols, "age_cat", age, {-1, 0, 12, 18, 40, 60, 100},
              {"missing", "child", "teenager", "young_adult", "adult", "senior"});

  std::vector<int> family(n);
  for (size_t i = 0; i < n; ++i) family[i] = at(i).sibsp + at(i).parch + 1;
  append_dummies<int>(cols, "family", family, [](const int& v) { return std::to_string(v); });

  {
    // A number seen before keeps its group only for masters and females (travelling families);
    // everyone else opens a new group, which also becomes the number's group from then on.
    std::unordered_map<int64_t, int64_t> group_of;
    int64_t counter = 0;
    std::vector<double> group(n);
    for (size_t i = 0; i < n; ++i) {
      auto it = group_of.find(ticket_number[i]);
      if (it != group_of.end() && (title[i] == "master" || at(i).female)) {
        group[i] = static_cast<double>(it->second);
      } else {
        group[i] = static_cast<double>(counter);
        group_of[ticket_number[i]] = counter;
        ++counter;
      }
    }
    cols.push_back(Column{"ticket_group", std::move(group)});
  }

  append_bins(cols, "fare_cat", fare, {-1, 0, 12, 50, 100, 1000},
              {"missing", "0-12", "12-50", "50-100", "100+"});

  // Sorted by the original character ('n' for missing sorts after the capitals), named lower-case.
  std::vector<std::string> cabin(n);
  for (size_t i = 0; i < n; ++i) cabin[i] = at(i).cabin.empty() ? "n" : at(i).cabin.substr(0, 1);
  append_dummies<std::string>(cols, "cabin_type", cabin,
                              [](const std::string& v) { return lower(v); });

  std::vector<std::string> embarked(n);
  for (size_t i = 0; i < n; ++i) embarked[i] = at(i).embarked.empty() ? "S" : at(i).embarked;
  append_dummies<std::string>(cols, "embarked", embarked,
                              [](const std::string& v) { return lower(v); });

  // ---- split back into the two tables ----
  std::vector<std::string> train_names, test_names;
  for (size_t c = 0; c < cols.size(); ++c) {
    train_names.push_back(cols[c].name);
    test_names.push_back(cols[c].name);
    if (c == 0) train_names.push_back("survived");
  }
  TitanicTables out{Table(train_names), Table(test_names), {}, {}};
  out.passengers.insert(out.passengers.end(), train.rows.begin(), train.rows.end());
  out.passengers.insert(out.passengers.end(), test.rows.begin(), test.rows.end());
  for (const KaggleTable* source : {&train, &test}) {
    if (std::string note = ignored_columns_note(*source); !note.empty()) out.notes.push_back(note);
  }
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> row;
    row.reserve(cols.size() + 1);
    for (size_t c = 0; c < cols.size(); ++c) {
      row.push_back(cols[c].values[i]);
      if (c == 0 && i < n_train) row.push_back(static_cast<double>(*at(i).survived));
    }
    (i < n_train ? out.train : out.test).add_row(std::move(row));
  }
  return out;
}

TitanicTables load_titanic(const std::string& data_dir) {
  namespace fs = std::filesystem;
  for (const char* file : {"train.csv", "test.csv"}) {
    const fs::path path = fs::path(data_dir) / file;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      throw Error(ErrorKind::data,
                  fmt::format("{} not found: run data/fetch_titanic.sh or pass --data with the "
                              "folder that holds the Kaggle train.csv and test.csv",
                              path.string()));
    }
  }
  KaggleTable train =
      read_kaggle_csv((fs::path(data_dir) / "train.csv").string(), KaggleSplit::train);
  KaggleTable test = read_kaggle_csv((fs::path(data_dir) / "test.csv").string(), KaggleSplit::test);
  return wrangle_titanic(train, test);
}

std::vector<std::string> feature_columns(const Table& table) {
  std::vector<std::string> out;
  for (const auto& name : table.columns()) {
    if (name != "passengerid" && name != "survived") out.push_back(name);
  }
  return out;
}

std::vector<int> survived_labels(const Table& train) {
  std::vector<int> labels;
  for (double v : train.column("survived")) labels.push_back(v != 0.0 ? 1 : 0);
  return labels;
}

}  // namespace keel::data
