// Group survival features. Counting survivors and deaths per group once over the known rows, then
// taking a known target's own label back out, gives leave-one-out values in O(rows).
#include "titanic/group_survival.h"

#include <algorithm>
#include <numeric>
#include <unordered_map>

#include <fmt/format.h>

#include "keel/error.h"
#include "titanic/features.h"

namespace keel::data {

namespace {

constexpr size_t index_of(GroupKind kind) {
  return static_cast<size_t>(kind);
}

// Dense ids for text keys; an empty key means "no group".
class KeyIds {
 public:
  int64_t id(const std::string& key) {
    if (key.empty()) return -1;
    return ids_.emplace(key, static_cast<int64_t>(ids_.size())).first->second;
  }

 private:
  std::unordered_map<std::string, int64_t> ids_;
};

std::string surname(const Passenger& p) {
  return p.name.substr(0, p.name.find(','));
}

bool is_boy(const Passenger& p) {
  const auto title = extract_title(p.name);
  return !p.female && title && *title == "Master";
}

// Union-find over passenger indices, for the transitive ticket / surname_fare groups.
class Components {
 public:
  explicit Components(size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0); }
  size_t find(size_t i) {
    while (parent_[i] != i) i = parent_[i] = parent_[parent_[i]];
    return i;
  }
  void join(size_t a, size_t b) { parent_[find(a)] = find(b); }

 private:
  std::vector<size_t> parent_;
};

// Joins every passenger to the first one seen with the same id of `kind`.
void link_by(const GroupKeys& keys, GroupKind kind, Components& components) {
  std::unordered_map<int64_t, size_t> first;
  for (size_t i = 0; i < keys.ids.size(); ++i) {
    const int64_t id = keys.ids[i][index_of(kind)];
    if (id < 0) continue;
    const auto [it, inserted] = first.emplace(id, i);
    if (!inserted) components.join(i, it->second);
  }
}

// A group id only for groups of two or more: a passenger alone has no one to learn from.
void drop_singletons(GroupKeys& keys, GroupKind kind) {
  std::unordered_map<int64_t, int> size;
  for (const auto& ids : keys.ids) {
    if (ids[index_of(kind)] >= 0) ++size[ids[index_of(kind)]];
  }
  for (auto& ids : keys.ids) {
    if (ids[index_of(kind)] >= 0 && size[ids[index_of(kind)]] < 2) ids[index_of(kind)] = -1;
  }
}

}  // namespace

GroupKeys group_keys(const std::vector<Passenger>& passengers, int64_t train_rows) {
  GroupKeys keys;
  keys.train_rows = train_rows;
  keys.ids.resize(passengers.size());
  KeyIds tickets, surname_fares, cabins, families;
  for (size_t i = 0; i < passengers.size(); ++i) {
    const Passenger& p = passengers[i];
    auto& ids = keys.ids[i];
    ids[index_of(GroupKind::ticket)] = tickets.id(p.ticket);
    ids[index_of(GroupKind::surname_fare)] =
        p.fare ? surname_fares.id(fmt::format("{}|{:.4f}", surname(p), *p.fare)) : -1;
    ids[index_of(GroupKind::cabin)] = cabins.id(p.cabin);
    const int family = p.sibsp + p.parch + 1;
    ids[index_of(GroupKind::family_size)] =
        family > 1 ? families.id(fmt::format("{}|{}", surname(p), family)) : -1;
  }
  Components components(passengers.size());
  link_by(keys, GroupKind::ticket, components);
  link_by(keys, GroupKind::surname_fare, components);
  for (size_t i = 0; i < passengers.size(); ++i) {
    const auto root = static_cast<int64_t>(components.find(i));
    keys.ids[i][index_of(GroupKind::group)] = root;
    const bool woman_or_boy = passengers[i].female || is_boy(passengers[i]);
    keys.ids[i][index_of(GroupKind::wcg)] = woman_or_boy ? root : -1;
  }
  for (size_t k = 0; k < kGroupKinds; ++k) drop_singletons(keys, static_cast<GroupKind>(k));
  return keys;
}

const std::vector<std::string>& group_survival_columns() {
  static const std::vector<std::string> names = {
      "ticket_survived", "ticket_died", "surname_fare_survived", "surname_fare_died",
      "cabin_survived",  "cabin_died",  "family_size_survived",  "family_size_died",
      "group_survived",  "group_died",  "wcg_survived",          "wcg_died"};
  return names;
}

bool is_group_survival_column(const std::string& name) {
  const auto& names = group_survival_columns();
  return std::find(names.begin(), names.end(), name) != names.end();
}

Table group_survival_table(const GroupKeys& keys, const std::vector<int>& labels,
                           const std::vector<int64_t>& known, const std::vector<int64_t>& targets) {
  if (static_cast<int64_t>(labels.size()) != keys.train_rows) {
    throw Error(ErrorKind::runtime, fmt::format("group survival: {} labels for {} train rows",
                                                labels.size(), keys.train_rows));
  }
  // Survivors and deaths per (kind, group) among the known rows.
  std::array<std::unordered_map<int64_t, std::array<int, 2>>, kGroupKinds> counts;
  std::vector<char> is_known(static_cast<size_t>(keys.train_rows), 0);
  for (int64_t r : known) {
    if (r < 0 || r >= keys.train_rows) {
      throw Error(ErrorKind::runtime,
                  fmt::format("group survival: known row {} is not a train row", r));
    }
    is_known[static_cast<size_t>(r)] = 1;
    for (size_t k = 0; k < kGroupKinds; ++k) {
      const int64_t id = keys.ids[static_cast<size_t>(r)][k];
      if (id >= 0) ++counts[k][id][labels[static_cast<size_t>(r)] ? 1 : 0];
    }
  }
  Table out(group_survival_columns());
  for (int64_t t : targets) {
    const auto& ids = keys.ids.at(static_cast<size_t>(t));
    const bool self_known = t < keys.train_rows && is_known[static_cast<size_t>(t)];
    std::vector<double> row;
    row.reserve(2 * kGroupKinds);
    for (size_t k = 0; k < kGroupKinds; ++k) {
      std::array<int, 2> c = {0, 0};
      if (ids[k] >= 0) {
        if (auto it = counts[k].find(ids[k]); it != counts[k].end()) c = it->second;
        if (self_known) --c[labels[static_cast<size_t>(t)] ? 1 : 0];  // leave the target out
      }
      row.push_back(c[1] > 0 ? 1.0 : 0.0);
      row.push_back(c[0] > 0 ? 1.0 : 0.0);
    }
    out.add_row(std::move(row));
  }
  return out;
}

}  // namespace keel::data
