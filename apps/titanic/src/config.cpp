// Strict YAML -> Config: every value is checked against the schema table (type, range, choices),
// unknown keys get a did-you-mean, and every message names file:line (or the --set) and the key.
#include "titanic/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "common/input_limits.h"
#include "keel/error.h"
#include "schema.h"
#include "yaml_guard.h"

namespace keel {

using namespace config_detail;

namespace {

constexpr const char* kDocsHint = "configs/README.md lists every key with its type and range";

// Where a value came from: a line of a file, or a --set assignment on the command line.
struct Origin {
  std::string file;
  int line = 0;            // 1-based; 0 = unknown
  std::string assignment;  // non-empty for --set

  std::string str() const {
    if (!assignment.empty()) return fmt::format("`--set {}`", detail::abbreviated(assignment));
    return line > 0 ? fmt::format("{}:{}", file, line) : file;
  }
  Origin at_line(int l) const {
    Origin o = *this;
    if (l > 0) o.line = l;
    return o;
  }
};

[[noreturn]] void fail(const std::string& message) {
  throw Error(ErrorKind::config, message);
}

int line_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

// How a value looks, for "got ..." in messages.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return fmt::format("`{}`", detail::abbreviated(node.Scalar()));
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// "unknown key ... at X, did you mean `y`?" or, with nothing close, the list of what is allowed.
[[noreturn]] void fail_unknown(const std::string& what, const std::string& name, const Origin& at,
                               const std::vector<std::string>& valid, const std::string& prefix,
                               const std::string& valid_label) {
  // Nothing is a typo of a name this long, and the edit distance would take its length squared.
  const std::string suggestion = name.size() > 64 ? std::string() : closest_match(name, valid);
  const std::string shown = detail::abbreviated(name);
  if (!suggestion.empty()) {
    fail(fmt::format("unknown {} `{}{}` at {}, did you mean `{}{}`? Fix the spelling ({}).", what,
                     prefix, shown, at.str(), prefix, suggestion, kDocsHint));
  }
  fail(fmt::format("unknown {} `{}{}` at {}: {} are {}; {}.", what, prefix, shown, at.str(),
                   valid_label, join(valid), kDocsHint));
}

[[noreturn]] void fail_type(const std::string& key, const Origin& at, const std::string& expected,
                            const YAML::Node& value, const std::string& fix) {
  fail(fmt::format("{}: `{}` must be {}, got {}: {}.", at.str(), key, expected, describe(value),
                   fix));
}

[[noreturn]] void fail_range(const std::string& key, const Origin& at, const std::string& text,
                             const std::string& allowed) {
  fail(fmt::format("{}: `{}` = {} is out of range: allowed {}. Pick a value in that range ({}).",
                   at.str(), key, detail::abbreviated(text), allowed, kDocsHint));
}

std::string scalar_text(const YAML::Node& v) {
  return v.IsScalar() ? v.Scalar() : std::string();
}

// A plain decimal integer (optional sign). Returns false when the text is not an integer at all;
// sets `overflow` when it is one but does not fit.
bool parse_integer(const std::string& text, int64_t& out, bool& overflow) {
  overflow = false;
  std::string s = text;
  if (!s.empty() && s[0] == '+') s.erase(0, 1);
  if (s.empty() || s == "-") return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (end != s.data() + s.size()) return false;
  if (ec == std::errc::result_out_of_range) overflow = true;
  return ec == std::errc() || overflow;
}

bool parse_real(const std::string& text, double& out) {
  std::string s = text;
  if (!s.empty() && s[0] == '+') s.erase(0, 1);
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(out);
}

bool in_ranges(double v, const std::vector<Interval>& ranges) {
  if (ranges.empty()) return true;
  for (const Interval& r : ranges)
    if (r.contains(v)) return true;
  return false;
}

int64_t read_integer(const std::string& key, const Origin& at, const YAML::Node& v,
                     const std::vector<Interval>& ranges) {
  int64_t value = 0;
  bool overflow = false;
  const std::string allowed = interval_text(ranges, true);
  if (!v.IsScalar() || !parse_integer(v.Scalar(), value, overflow)) {
    fail_type(key, at, "an integer", v, "write a whole number in " + allowed);
  }
  if (overflow || !in_ranges(static_cast<double>(value), ranges))
    fail_range(key, at, v.Scalar(), allowed);
  return value;
}

uint64_t read_unsigned(const std::string& key, const Origin& at, const YAML::Node& v) {
  const std::string allowed = "0..18446744073709551615";
  const std::string text = scalar_text(v);
  int64_t signed_value = 0;
  bool overflow = false;
  if (!v.IsScalar() || !parse_integer(text, signed_value, overflow))
    fail_type(key, at, "a non-negative integer", v, "write a whole number in " + allowed);
  if (!text.empty() && text[0] == '-') fail_range(key, at, text, allowed);
  std::string digits = text[0] == '+' ? text.substr(1) : text;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) fail_range(key, at, text, allowed);
  return value;
}

double read_real(const std::string& key, const Origin& at, const YAML::Node& v,
                 const std::vector<Interval>& ranges) {
  double value = 0;
  const std::string allowed = interval_text(ranges, false);
  if (!v.IsScalar() || !parse_real(v.Scalar(), value))
    fail_type(key, at, "a number", v,
              "write a decimal number in " + allowed + ", e.g. 0.003 or 3e-3");
  if (!in_ranges(value, ranges)) fail_range(key, at, v.Scalar(), allowed);
  return value;
}

bool read_bool(const std::string& key, const Origin& at, const YAML::Node& v) {
  bool value = false;
  if (!v.IsScalar() || !YAML::convert<bool>::decode(v, value))
    fail_type(key, at, "true or false", v, "write true or false");
  return value;
}

std::string read_string(const std::string& key, const Origin& at, const YAML::Node& v,
                        const std::vector<std::string>& choices) {
  if (!v.IsScalar() || v.Scalar().empty()) {
    if (choices.empty()) fail_type(key, at, "a non-empty string", v, "write a value");
    fail_type(key, at, "one of " + join(choices), v, "write one of them");
  }
  const std::string& text = v.Scalar();
  if (choices.empty()) return text;
  for (const std::string& c : choices)
    if (c == text) return text;
  const std::string suggestion = closest_match(text, choices);
  fail(fmt::format("{}: `{}` must be one of {}, got `{}`{}.", at.str(), key, join(choices),
                   detail::abbreviated(text),
                   suggestion.empty() ? "" : fmt::format(", did you mean `{}`?", suggestion)));
}

// The list items' own lines, so a bad entry is pointed at exactly.
std::vector<std::string> read_string_list(const std::string& key, const Origin& at,
                                          const YAML::Node& v) {
  if (v.IsNull()) return {};
  if (!v.IsSequence())
    fail_type(key, at, "a list of strings", v, "write a list, e.g. [sex_female, pclass_1]");
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string item_key = fmt::format("{}[{}]", key, i);
    const Origin item_at = at.at_line(line_of(v[i]));
    if (!v[i].IsScalar() || v[i].Scalar().empty())
      fail_type(item_key, item_at, "a non-empty string", v[i], "write a column name");
    for (const std::string& seen : out)
      if (seen == v[i].Scalar())
        fail(fmt::format("{}: `{}` lists `{}` twice: each entry must be unique, remove one.",
                         item_at.str(), key, seen));
    out.push_back(v[i].Scalar());
  }
  return out;
}

std::vector<uint64_t> read_unsigned_list(const std::string& key, const Origin& at,
                                         const YAML::Node& v) {
  if (v.IsNull()) return {};
  if (!v.IsSequence())
    fail_type(key, at, "a list of non-negative integers", v, "write a list, e.g. [0, 1, 2]");
  std::vector<uint64_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string item_key = fmt::format("{}[{}]", key, i);
    const Origin item_at = at.at_line(line_of(v[i]));
    const uint64_t value = read_unsigned(item_key, item_at, v[i]);
    for (uint64_t seen : out)
      if (seen == value)
        fail(fmt::format("{}: `{}` lists {} twice: each entry must be unique, remove one.",
                         item_at.str(), key, value));
    out.push_back(value);
  }
  return out;
}

double read_layer_arg(const std::string& key, const Origin& at, const LayerArgSpec& arg,
                      const YAML::Node& v) {
  const std::vector<Interval> ranges{arg.range};
  switch (arg.kind) {
    case ArgKind::integer:
      return static_cast<double>(read_integer(key, at, v, ranges));
    case ArgKind::real:
      return read_real(key, at, v, ranges);
    case ArgKind::flag: {
      bool flag = false;
      if (v.IsScalar() && YAML::convert<bool>::decode(v, flag)) return flag ? 1.0 : 0.0;
      if (v.IsScalar() && (v.Scalar() == "0" || v.Scalar() == "1")) return v.Scalar() == "1";
      fail_type(key, at, "true or false", v, "write true or false (or 1 / 0)");
    }
  }
  return 0;
}

std::vector<std::string> layer_type_names() {
  std::vector<std::string> names;
  for (const LayerTypeSpec& spec : layer_specs()) names.push_back(spec.type);
  return names;
}

LayerSpec read_layer(const YAML::Node& item, size_t index, const Origin& list_at) {
  const std::string key = fmt::format("model.layers[{}]", index);
  const Origin at = list_at.at_line(line_of(item));
  LayerSpec layer;
  layer.line = at.line;
  YAML::Node args;
  if (item.IsScalar()) {
    layer.type = item.Scalar();
  } else if (item.IsMap() && item.size() == 1) {
    const auto pair = *item.begin();
    if (!pair.first.IsScalar()) fail_type(key, at, "a layer name", pair.first, "write e.g. conv2d");
    layer.type = pair.first.Scalar();
    args = pair.second;
  } else if (item.IsMap()) {
    std::vector<std::string> keys;
    for (const auto& pair : item) keys.push_back(scalar_text(pair.first));
    fail(fmt::format(
        "{}: `{}` has {} keys ({}), but each layer is a one-key map such as "
        "`- conv2d: {{out: 32, kernel: 3}}`: indent the arguments under the layer name or put "
        "them in braces.",
        at.str(), key, keys.size(), join(keys)));
  } else {
    fail_type(key, at, "a layer", item, "write e.g. `- relu` or `- conv2d: {out: 32, kernel: 3}`");
  }

  const LayerTypeSpec* spec = find_layer(layer.type);
  if (spec == nullptr)
    fail_unknown("layer type", layer.type, at, layer_type_names(), "", "the layer types");
  const std::string layer_key = key + "." + layer.type;

  if (args && !args.IsNull()) {
    if (!args.IsMap()) {
      fail_type(layer_key, at.at_line(line_of(args)), "a map of arguments", args,
                spec->args.empty()
                    ? fmt::format("`{}` takes no arguments, write `- {}`", layer.type, layer.type)
                    : "write e.g. `- conv2d: {out: 32, kernel: 3}`");
    }
    std::vector<std::string> names;
    for (const LayerArgSpec& a : spec->args) names.push_back(a.name);
    for (const auto& pair : args) {
      const std::string name = scalar_text(pair.first);
      const Origin arg_at = at.at_line(line_of(pair.first));
      const auto found = std::find_if(spec->args.begin(), spec->args.end(),
                                      [&](const LayerArgSpec& a) { return a.name == name; });
      if (found == spec->args.end()) {
        if (spec->args.empty())
          fail(fmt::format("{}: `{}` takes no arguments, got `{}`: write `- {}`.", arg_at.str(),
                           layer.type, name, layer.type));
        fail_unknown("argument", name, arg_at, names, layer_key + ".",
                     fmt::format("the arguments of {}", layer.type));
      }
      if (layer.args.count(name))
        fail(fmt::format("{}: `{}.{}` is given twice: keep one.", arg_at.str(), layer_key, name));
      const Origin value_at = pair.second.IsNull() ? arg_at : at.at_line(line_of(pair.second));
      layer.args[name] = read_layer_arg(layer_key + "." + name, value_at, *found, pair.second);
    }
  }
  for (const LayerArgSpec& a : spec->args) {
    if (layer.args.count(a.name)) continue;
    if (a.default_value) {
      layer.args[a.name] = *a.default_value;
    } else if (!a.default_from.empty()) {
      layer.args[a.name] = layer.args.at(a.default_from);
    } else {
      fail(fmt::format("{}: `{}` needs `{}` ({}), e.g. `- {}: {{{}: 32}}`.", at.str(), layer_key,
                       a.name, a.meaning, layer.type, a.name));
    }
  }
  if (layer.args.count("padding") && layer.args.count("kernel") &&
      (layer.type == "max_pool" || layer.type == "avg_pool") &&
      layer.args["padding"] * 2 > layer.args["kernel"]) {
    fail(
        fmt::format("{}: `{}.padding` = {} is out of range: allowed 0..{} (at most half the "
                    "kernel, {}), so every window overlaps the image.",
                    at.str(), layer_key, layer.args["padding"],
                    static_cast<int>(layer.args["kernel"]) / 2, layer.args["kernel"]));
  }
  return layer;
}

std::vector<LayerSpec> read_layers(const std::string& key, const Origin& at, const YAML::Node& v) {
  if (v.IsNull()) return {};
  if (!v.IsSequence())
    fail_type(key, at, "a list of layers", v,
              "write one layer per line, e.g. `- conv2d: {out: 32, kernel: 3}` then `- relu`");
  std::vector<LayerSpec> layers;
  for (size_t i = 0; i < v.size(); ++i) layers.push_back(read_layer(v[i], i, at));
  return layers;
}

// Reads `value` into the field of `spec`, with the field's own type, range and choices.
void assign(const KeySpec& spec, Config& config, const YAML::Node& value, const Origin& at) {
  const std::string& key = spec.key;
  std::visit(
      [&](auto* field) {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, int>) {
          *field = static_cast<int>(read_integer(key, at, value, spec.ranges));
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          *field = read_unsigned(key, at, value);
        } else if constexpr (std::is_same_v<T, double>) {
          *field = read_real(key, at, value, spec.ranges);
        } else if constexpr (std::is_same_v<T, bool>) {
          *field = read_bool(key, at, value);
        } else if constexpr (std::is_same_v<T, std::string>) {
          *field = read_string(key, at, value, spec.choices);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          *field = read_string_list(key, at, value);
        } else if constexpr (std::is_same_v<T, std::vector<uint64_t>>) {
          *field = read_unsigned_list(key, at, value);
        } else {
          *field = read_layers(key, at, value);
        }
      },
      spec.field(config));
}

std::vector<std::string> keys_of_section(const std::string& section) {
  std::vector<std::string> out;
  for (const KeySpec& spec : key_specs()) {
    const auto dot = spec.key.find('.');
    if (section.empty() && dot == std::string::npos) out.push_back(spec.key);
    if (!section.empty() && dot != std::string::npos && spec.key.substr(0, dot) == section)
      out.push_back(spec.key.substr(dot + 1));
  }
  return out;
}

std::string section_of(const std::string& dotted) {
  const auto dot = dotted.find('.');
  return dot == std::string::npos ? "" : dotted.substr(0, dot);
}

// A key that is valid, just in another section: say where it belongs rather than guess a typo.
std::string home_of(const std::string& leaf) {
  for (const KeySpec& spec : key_specs()) {
    const auto dot = spec.key.find('.');
    const std::string spec_leaf = dot == std::string::npos ? spec.key : spec.key.substr(dot + 1);
    if (spec_leaf == leaf) return spec.key;
  }
  return "";
}

[[noreturn]] void fail_unknown_key(const std::string& section, const std::string& leaf,
                                   const Origin& at) {
  const std::string prefix = section.empty() ? "" : section + ".";
  const std::string home = home_of(leaf);
  if (!home.empty() && home != prefix + leaf) {
    const std::string home_section = section_of(home);
    fail(fmt::format("unknown key `{}{}` at {}: `{}` belongs {}, i.e. `{}`; move it there ({}).",
                     prefix, leaf, at.str(), leaf,
                     home_section.empty() ? std::string("at the top level")
                                          : fmt::format("in the `{}:` section", home_section),
                     home, kDocsHint));
  }
  std::vector<std::string> valid = keys_of_section(section);
  if (section.empty())
    for (const std::string& s : section_names()) valid.push_back(s);
  fail_unknown("key", leaf, at, valid, prefix,
               section.empty() ? std::string("the top-level keys")
                               : fmt::format("the keys of `{}`", section));
}

// Each `evaluate.candidates` entry must apply to the config as a set of --set overrides.
template <typename Where>
void check_candidates(const Config& c, const Where& where) {
  for (const std::string& candidate : c.evaluate.candidates) {
    const std::vector<std::string> overrides = candidate_overrides(candidate);
    for (const std::string& o : overrides) {
      if (o.rfind("evaluate.", 0) == 0) {
        fail(
            fmt::format("{}: the candidate `{}` sets `{}`: candidates choose how a model is "
                        "trained, not how it is evaluated; remove that part.",
                        where("evaluate.candidates"), candidate, o));
      }
    }
    Config trial = c;
    trial.evaluate.candidates.clear();
    try {
      apply_overrides(trial, overrides);
    } catch (const Error& e) {
      fail(fmt::format("{}: the candidate `{}` of `evaluate.candidates` does not apply: {}",
                       where("evaluate.candidates"), candidate, e.what()));
    }
  }
}

// Rules that tie several keys together. `where` says where to point for a given key.
template <typename Where>
void check_cross_fields(const Config& c, const Where& where) {
  const bool resnet = c.model.arch != "layers";
  if (!resnet && c.model.layers.empty()) {
    fail(fmt::format(
        "{}: `model.arch` is `layers` but `model.layers` is empty: list the layers, e.g. "
        "`layers: [{{conv2d: {{out: 32, padding: 1}}}}, relu, adaptive_avg_pool, flatten, "
        "{{linear: {{out: 2}}}}]`, or set `model.arch: resnet34`.",
        where("model.layers")));
  }
  if (resnet && !c.model.layers.empty()) {
    fail(fmt::format(
        "{}: `model.arch` is `{}`, which builds its own layers, but `model.layers` lists {}: "
        "remove `model.layers` or set `model.arch: layers`.",
        where("model.arch"), c.model.arch, c.model.layers.size()));
  }
  if (!resnet) {
    const LayerSpec& last = c.model.layers.back();
    if (last.type != "linear" || last.args.at("out") != c.model.num_classes) {
      fail(fmt::format(
          "{}: the last layer of `model.layers` must be `linear` with out = `model.num_classes` "
          "({}) so the model gives one score per class, got `{}`{}: end the list with "
          "`- linear: {{out: {}}}`.",
          where("model.layers"), c.model.num_classes, last.type,
          last.type == "linear" ? fmt::format(" with out = {}", last.args.at("out")) : "",
          c.model.num_classes));
    }
  }
  if (!resnet && c.train.frozen_epochs > 0) {
    fail(
        fmt::format("{}: `train.frozen_epochs` = {} needs a pretrained-style body to freeze, "
                    "which only `model.arch: resnet34` or `resnet18` has: set it to 0.",
                    where("train.frozen_epochs"), c.train.frozen_epochs));
  }
  if (c.schedule.moms_min > c.schedule.moms_max) {
    fail(
        fmt::format("{}: `schedule.moms_min` = {} is above `schedule.moms_max` = {}: the cycle "
                    "goes from moms_max down to moms_min, so make moms_min <= moms_max.",
                    where("schedule.moms_min"), c.schedule.moms_min, c.schedule.moms_max));
  }
  const bool has_validation = c.train.folds > 1 || c.train.val_fraction > 0;
  if (c.train.patience > 0 && !has_validation) {
    fail(
        fmt::format("{}: `train.patience` = {} stops early on validation results, but there is "
                    "no validation (`train.val_fraction` is 0 and `train.folds` is off): set "
                    "`train.patience: 0` or give a validation fraction.",
                    where("train.patience"), c.train.patience));
  }
  if (c.train.repeats > 1 && c.train.folds < 2) {
    fail(
        fmt::format("{}: `train.repeats` = {} repeats k-fold cross-validation, but "
                    "`train.folds` is off: set `train.folds` (2..20) first, or repeats to 1.",
                    where("train.repeats"), c.train.repeats));
  }
  if (c.data.rank_top_k > 0 && !c.data.features.empty() &&
      static_cast<size_t>(c.data.rank_top_k) > c.data.features.size()) {
    fail(
        fmt::format("{}: `data.rank_top_k` = {} keeps more features than `data.features` lists "
                    "({}): lower it or list more features.",
                    where("data.rank_top_k"), c.data.rank_top_k, c.data.features.size()));
  }
  if (c.predict.tta > 0 && !c.data.augment) {
    fail(
        fmt::format("{}: `predict.tta` = {} averages predictions over augmented images, but "
                    "`data.augment` is off, so every pass would be the same image: set "
                    "`data.augment: true` or `predict.tta: 0`.",
                    where("predict.tta"), c.predict.tta));
  }
  check_candidates(c, where);
}

// Parses one YAML document into a config, recording the line of each key for later messages.
Config parse_document(const YAML::Node& root, const std::string& source) {
  const Origin file_at{source, 0, ""};
  if (!root || root.IsNull())
    fail(
        fmt::format("{}: config is empty: give at least the keys that differ from the defaults, "
                    "e.g. `train: {{epochs: 30}}` ({}).",
                    source, kDocsHint));
  if (!root.IsMap())
    fail(
        fmt::format("{}: the config must be a map of keys such as `seed: 0` and "
                    "`train: {{epochs: 30}}`, got {}.",
                    file_at.at_line(line_of(root)).str(), describe(root)));

  Config config;
  config.source = source;
  std::map<std::string, int> lines;  // dotted key -> line, for cross-field messages

  const auto take = [&](const std::string& dotted, const YAML::Node& key_node,
                        const YAML::Node& value) {
    const Origin key_at = file_at.at_line(line_of(key_node));
    if (lines.count(dotted))
      fail(fmt::format("{}: key `{}` appears twice (first at line {}): keep one.", key_at.str(),
                       dotted, lines[dotted]));
    lines[dotted] = key_at.line;
    const KeySpec* spec = find_key(dotted);
    if (spec == nullptr) {
      const std::string section = section_of(dotted);
      fail_unknown_key(section, section.empty() ? dotted : dotted.substr(section.size() + 1),
                       key_at);
    }
    // A null value (`epochs:` with nothing after it) has no line of its own; point at the key.
    const Origin value_at = value.IsNull() ? key_at : file_at.at_line(line_of(value));
    assign(*spec, config, value, value_at);
  };

  for (const auto& pair : root) {
    const Origin key_at = file_at.at_line(line_of(pair.first));
    if (!pair.first.IsScalar())
      fail(fmt::format("{}: a key must be a plain name, got {}.", key_at.str(),
                       describe(pair.first)));
    const std::string name = pair.first.Scalar();
    const auto& sections = section_names();
    if (std::find(sections.begin(), sections.end(), name) != sections.end()) {
      if (lines.count(name))
        fail(fmt::format("{}: section `{}` appears twice (first at line {}): merge them.",
                         key_at.str(), name, lines[name]));
      lines[name] = key_at.line;
      if (pair.second.IsNull()) continue;  // `train:` with nothing under it keeps the defaults
      if (!pair.second.IsMap())
        fail(fmt::format("{}: `{}` must be a map of keys, e.g. `{}: {{{}: ...}}`, got {}.",
                         key_at.str(), name, name, keys_of_section(name).front(),
                         describe(pair.second)));
      for (const auto& inner : pair.second) {
        if (!inner.first.IsScalar())
          fail(fmt::format("{}: a key must be a plain name, got {}.",
                           file_at.at_line(line_of(inner.first)).str(), describe(inner.first)));
        take(name + "." + inner.first.Scalar(), inner.first, inner.second);
      }
      continue;
    }
    if (name.find('.') != std::string::npos && find_key(name) != nullptr) {
      const std::string section = section_of(name);
      fail(
          fmt::format("{}: `{}` is written with a dot; in a config file nest it instead: "
                      "`{}: {{{}: ...}}` (dotted keys are for --set).",
                      key_at.str(), name, section, name.substr(section.size() + 1)));
    }
    if (find_key(name) == nullptr || name.find('.') != std::string::npos)
      fail_unknown_key("", name, key_at);
    take(name, pair.first, pair.second);
  }

  check_cross_fields(config, [&](const std::string& dotted) {
    // Point at the key itself, else at its section, else at the file.
    if (lines.count(dotted)) return file_at.at_line(lines[dotted]).str();
    const std::string section = section_of(dotted);
    if (!section.empty() && lines.count(section)) return file_at.at_line(lines[section]).str();
    return file_at.str();
  });
  return config;
}

void emit_field(YAML::Emitter& out, const KeySpec& spec, FieldRef field) {
  std::visit(
      [&](auto* p) {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, int> || std::is_same_v<T, uint64_t>) {
          out << fmt::format("{}", *p);
        } else if constexpr (std::is_same_v<T, double>) {
          out << format_number(*p, false);
        } else if constexpr (std::is_same_v<T, bool>) {
          out << (*p ? "true" : "false");
        } else if constexpr (std::is_same_v<T, std::string>) {
          // Free text (paths) is quoted so that no value can read back as another YAML type.
          if (spec.choices.empty()) out << YAML::DoubleQuoted;
          out << *p;
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          out << YAML::Flow << YAML::BeginSeq;
          for (const std::string& s : *p) out << YAML::DoubleQuoted << s;
          out << YAML::EndSeq;
        } else if constexpr (std::is_same_v<T, std::vector<uint64_t>>) {
          out << YAML::Flow << YAML::BeginSeq;
          for (uint64_t v : *p) out << fmt::format("{}", v);
          out << YAML::EndSeq;
        } else {
          if (p->empty()) {
            out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
            return;
          }
          out << YAML::BeginSeq;
          for (const LayerSpec& layer : *p) {
            const LayerTypeSpec* type = find_layer(layer.type);
            if (type == nullptr || type->args.empty()) {
              out << layer.type;
              continue;
            }
            out << YAML::BeginMap << YAML::Key << layer.type << YAML::Value << YAML::Flow
                << YAML::BeginMap;
            for (const LayerArgSpec& arg : type->args) {
              const auto found = layer.args.find(arg.name);
              if (found == layer.args.end()) continue;
              out << YAML::Key << arg.name << YAML::Value;
              if (arg.kind == ArgKind::flag)
                out << (found->second != 0 ? "true" : "false");
              else
                out << format_number(found->second, arg.kind == ArgKind::integer);
            }
            out << YAML::EndMap << YAML::EndMap;
          }
          out << YAML::EndSeq;
        }
      },
      field);
}

// Copies the value of one field between two configs (both refs come from the same KeySpec).
void copy_field(FieldRef to, FieldRef from) {
  std::visit(
      [&](auto* dst) {
        using P = decltype(dst);
        *dst = *std::get<P>(from);
      },
      to);
}

}  // namespace

Config parse_config(const std::string& yaml_text, const std::string& source_name) {
  check_yaml_nesting(yaml_text, source_name);
  YAML::Node document;
  size_t documents = 0;
  try {
    documents = count_yaml_documents(yaml_text, source_name);
    if (documents == 1) document = YAML::Load(yaml_text);
  } catch (const YAML::DeepRecursion& e) {
    fail(
        fmt::format("{}:{}:{}: the YAML is nested more than {} levels deep (lists or maps inside "
                    "each other); a config needs 4. Flatten that entry.",
                    source_name, e.mark.line + 1, e.mark.column + 1, e.depth()));
  } catch (const YAML::ParserException& e) {
    fail(
        fmt::format("{}:{}:{}: YAML syntax error: {}. Check the indentation, colons and "
                    "brackets on that line or the one before it.",
                    source_name, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  if (documents > 1)
    fail(
        fmt::format("{}: the file holds {} YAML documents (separated by `---`); a config is "
                    "one document: remove the extra ones.",
                    source_name, documents));
  if (documents == 1) check_yaml_expansion(document, source_name);
  try {
    return parse_document(document, source_name);
  } catch (const YAML::Exception& e) {
    // yaml-cpp's own complaints while walking the tree (rare: odd keys, anchors).
    fail(fmt::format("{}:{}: cannot read the config: {}. Simplify that entry ({}).", source_name,
                     e.mark.line + 1, e.msg, kDocsHint));
  }
}

// A config is a few kilobytes; reading stops one byte past this, so neither a huge file nor an
// endless stream (`--config /dev/zero`) is read into memory.
constexpr size_t kMaxConfigBytes = size_t{1} << 20;

Config load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(
        fmt::format("config file {} not found: pass --config with an existing file, e.g. "
                    "configs/cnn.yaml.",
                    path));
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad())
    fail(
        fmt::format("config file {} could not be read (is it a folder?): pass --config with a "
                    "YAML file, e.g. configs/cnn.yaml.",
                    path));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxConfigBytes)
    fail(
        fmt::format("config file {} is larger than 1 MiB, the most keel reads as a config (a "
                    "config with every key is about 3 KB): pass --config with a keel config "
                    "such as configs/cnn.yaml ({}).",
                    path, kDocsHint));
  return parse_config(text, path);
}

namespace {
// Parses and assigns one `key=value` without the cross-field rules (checked once for all
// overrides).
void assign_override(Config& config, const std::string& assignment) {
  const Origin at{config.source, 0, assignment};
  const auto eq = assignment.find('=');
  if (eq == std::string::npos)
    fail(fmt::format("`--set {}` has no `=`: write --set key=value, e.g. --set train.epochs=5.",
                     detail::abbreviated(assignment)));
  const auto trim = [](std::string s) {
    const auto first = s.find_first_not_of(" \t");
    const auto last = s.find_last_not_of(" \t");
    return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
  };
  const std::string key = trim(assignment.substr(0, eq));
  const std::string value_text = assignment.substr(eq + 1);
  if (key.empty())
    fail(
        fmt::format("`--set {}` has no key before `=`: write --set key=value, e.g. "
                    "--set train.epochs=5.",
                    detail::abbreviated(assignment)));
  const auto& sections = section_names();
  if (std::find(sections.begin(), sections.end(), key) != sections.end())
    fail(fmt::format("{}: `{}` is a section; set one of its keys, e.g. --set {}.{}=...", at.str(),
                     key, key, keys_of_section(key).front()));
  const KeySpec* spec = find_key(key);
  if (spec == nullptr) {
    const std::string section = section_of(key);
    const bool known_section =
        std::find(sections.begin(), sections.end(), section) != sections.end();
    if (known_section) fail_unknown_key(section, key.substr(section.size() + 1), at);
    if (section.empty()) fail_unknown_key("", key, at);
    // An unknown section: compare with every dotted key at once.
    std::vector<std::string> all;
    for (const KeySpec& s : key_specs()) all.push_back(s.key);
    fail_unknown("key", key, at, all, "", "the keys");
  }
  if (spec->key == "model.layers")
    fail(
        fmt::format("{}: `model.layers` cannot be set with --set: edit the layers list in the "
                    "config file (or copy it to a new file) instead.",
                    at.str()));
  YAML::Node value;
  check_yaml_nesting(value_text, at.str());
  try {
    value = YAML::Load(value_text);
    check_yaml_expansion(value, at.str());
  } catch (const YAML::ParserException& e) {
    fail(
        fmt::format("{}: the value `{}` is not valid YAML ({}): quote it or fix the brackets, "
                    "e.g. --set data.features=[sex_female,pclass_1].",
                    at.str(), detail::abbreviated(value_text), e.msg));
  }
  assign(*spec, config, value, at);
}
}  // namespace

void apply_overrides(Config& config, const std::vector<std::string>& assignments) {
  // Work on a copy so a rejected override leaves the config as it was. The cross-field rules see
  // all overrides together, so their order on the command line does not matter.
  Config updated = config;
  for (const std::string& a : assignments) assign_override(updated, a);
  std::string all;
  for (const std::string& a : assignments) {
    if (!all.empty()) all += ' ';
    all += "--set ";
    all += detail::abbreviated(a);
  }
  check_cross_fields(updated, [&](const std::string&) { return fmt::format("`{}`", all); });
  config = std::move(updated);
}

std::vector<std::string> candidate_overrides(const std::string& candidate) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= candidate.size()) {
    const size_t end = std::min(candidate.find(';', begin), candidate.size());
    const std::string part = candidate.substr(begin, end - begin);
    const auto first = part.find_first_not_of(" \t");
    if (first != std::string::npos)
      out.push_back(part.substr(first, part.find_last_not_of(" \t") - first + 1));
    begin = end + 1;
  }
  return out;
}

void apply_override(Config& config, const std::string& assignment) {
  apply_overrides(config, {assignment});
}

std::string to_yaml(const Config& config) {
  // Emission only reads, but the schema's accessors take a mutable Config.
  Config& c = const_cast<Config&>(config);
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string open_section;
  for (const KeySpec& spec : key_specs()) {
    const std::string section = section_of(spec.key);
    if (section != open_section) {
      if (!open_section.empty()) out << YAML::EndMap;
      if (!section.empty()) out << YAML::Key << section << YAML::Value << YAML::BeginMap;
      open_section = section;
    }
    out << YAML::Key << (section.empty() ? spec.key : spec.key.substr(section.size() + 1))
        << YAML::Value;
    emit_field(out, spec, spec.field(c));
  }
  if (!open_section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

uint64_t config_hash(const Config& config) {
  // Keys that may differ between a run and its resume are reset to their defaults first.
  Config copy = config;
  Config defaults;
  for (const KeySpec& spec : key_specs())
    if (!spec.hashed) copy_field(spec.field(copy), spec.field(defaults));
  const std::string text = to_yaml(copy);
  uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64-bit
  for (unsigned char ch : text) {
    hash ^= ch;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::vector<ConfigKeyDoc> config_key_docs() {
  Config defaults;
  std::vector<ConfigKeyDoc> docs;
  for (const KeySpec& spec : key_specs()) {
    std::string default_text = std::visit(
        [&](auto* p) -> std::string {
          using T = std::remove_pointer_t<decltype(p)>;
          if constexpr (std::is_same_v<T, int> || std::is_same_v<T, uint64_t>)
            return fmt::format("{}", *p);
          else if constexpr (std::is_same_v<T, double>)
            return format_number(*p, false);
          else if constexpr (std::is_same_v<T, bool>)
            return *p ? "true" : "false";
          else if constexpr (std::is_same_v<T, std::string>)
            return *p;
          else
            return p->empty() ? "[]" : "(list)";
        },
        spec.field(defaults));
    docs.push_back({spec.key, type_name(spec), default_text, range_text(spec), spec.meaning});
  }
  return docs;
}

}  // namespace keel
