// Group survival features: for each passenger, whether the other members of the same travelling
// group (ticket, surname + fare, cabin, surname + family size, their union, and the union's women
// and boys) are known to have survived or died. They read labels, so they are computed from the
// rows a model may see (the "known" rows) only, and a known row never sees its own label.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "keel/data/table.h"
#include "titanic/csv.h"

namespace keel::data {

// The ways of grouping passengers, in column order.
enum class GroupKind { ticket, surname_fare, cabin, family_size, group, wcg };
inline constexpr size_t kGroupKinds = 6;

// Group ids per passenger (the train rows, then the test rows, in file order), one per kind, shared
// by train and test; -1 = the passenger is in no group of that kind.
struct GroupKeys {
  std::vector<std::array<int64_t, kGroupKinds>> ids;
  int64_t train_rows = 0;
};

// Keys of the passengers of train.csv followed by test.csv:
// - ticket: the whole Ticket text;
// - surname_fare: the surname (Name up to its first comma) and the Fare (none when missing);
// - cabin: the whole Cabin text (none when empty);
// - family_size: the surname and sibsp + parch + 1 (none when travelling alone);
// - group: passengers linked by a shared ticket or surname_fare, transitively (a family that
//   split its tickets, or friends on one ticket);
// - wcg: the women and boys (title Master) of the same group, the "woman-child group", where
//   fate was most shared; men are in no wcg.
GroupKeys group_keys(const std::vector<Passenger>& passengers, int64_t train_rows);

// Column names, two per kind: "<kind>_survived" (1 when some other known member survived) and
// "<kind>_died" (1 when some other known member died). Both 0 is the unknown state (no other
// member is known); both 1 a group of mixed fate.
const std::vector<std::string>& group_survival_columns();
bool is_group_survival_column(const std::string& name);

// The group columns of the passengers `targets` (indices into keys.ids: train rows 0..N-1, test
// rows N..), counting only the labels of the train rows in `known` (labels: one per train row).
// A target that is itself known is left out of its own groups (leave-one-out), so its label never
// shapes its own features. Returns one row per target, the columns of group_survival_columns().
Table group_survival_table(const GroupKeys& keys, const std::vector<int>& labels,
                           const std::vector<int64_t>& known, const std::vector<int64_t>& targets);

}  // namespace keel::data
