// The one table of config keys and layer types: it drives validation, to_yaml, apply_override,
// config_key_docs() and so configs/README.md, so a key cannot exist without a type, range and doc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "titanic/config.h"

namespace keel::config_detail {

// Where a key lives in Config. The pointed-to type decides how the YAML value is read, so the table
// cannot claim a type that disagrees with the struct.
using FieldRef =
    std::variant<int*, uint64_t*, double*, bool*, std::string*, std::vector<std::string>*,
                 std::vector<uint64_t>*, std::vector<LayerSpec>*>;

// One allowed stretch of numbers; a key may allow several (train.folds: 0, or 2..20).
struct Interval {
  double lo, hi;
  bool lo_open = false, hi_open = false;
  bool contains(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
};

struct KeySpec {
  std::string key;                   // dotted: "train.epochs"
  FieldRef (*field)(Config&);        // where the value is stored
  std::vector<Interval> ranges;      // numbers and integer-list elements; empty = unbounded
  std::vector<std::string> choices;  // strings; empty = any non-empty string
  bool hashed;                       // false: may change between a run and its resume
  std::string meaning;               // one line for configs/README.md
};

// Every key, in the order to_yaml writes them and configs/README.md lists them.
const std::vector<KeySpec>& key_specs();
const KeySpec* find_key(const std::string& dotted);
// The top-level section names (data, model, ...), in order.
const std::vector<std::string>& section_names();

enum class ArgKind { integer, real, flag };

struct LayerArgSpec {
  std::string name;
  ArgKind kind;
  std::optional<double> default_value;  // nullopt: required (unless default_from is set)
  std::string default_from;             // "kernel": defaults to that argument's value
  Interval range;
  std::string meaning;
};

struct LayerTypeSpec {
  std::string type;
  std::vector<LayerArgSpec> args;
  std::string meaning;
};

const std::vector<LayerTypeSpec>& layer_specs();
const LayerTypeSpec* find_layer(const std::string& type);

// Text helpers shared by validation and docs.
std::string type_name(const KeySpec& spec);   // "integer", "one of", "list of strings", ...
std::string range_text(const KeySpec& spec);  // "1..65536", "auto, cpu, cuda", ...
std::string interval_text(const std::vector<Interval>& ranges, bool integer);
std::string format_number(double v, bool integer);

// The candidate closest to `word` by edit distance, or "" when none is close enough to be a typo.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace keel::config_detail
