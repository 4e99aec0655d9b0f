// Guards in front of yaml-cpp for hostile configs: yaml-cpp parses flow brackets by recursion,
// shares the node of an anchor among its aliases and can loop on a stray token, so deep brackets
// could exhaust the stack, a few lines of aliases (a "billion laughs") could stand for billions of
// values to walk, and a one-character file could hang the program.
#pragma once

#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

namespace keel::config_detail {

// Deepest nesting of flow brackets ([ and {) a config may use; real configs use 3 or 4.
inline constexpr int kMaxYamlNesting = 64;
// Most values (map entries, list items, scalars) a config may expand to once every alias is
// replaced by what its anchor holds; the flagship config has about 100.
inline constexpr int kMaxYamlValues = 100000;

// Scans `text` (without parsing it) and throws keel::Error(config) naming `where` and the line
// when flow brackets nest deeper than kMaxYamlNesting. Quoted text and comments are skipped.
void check_yaml_nesting(std::string_view text, const std::string& where);

// The number of YAML documents in `text`, counted with yaml-cpp's parser (which throws its
// ParserException for a syntax error). yaml-cpp 0.7 never gets past some stray tokens (a `,` at
// the top level): it reports an empty document there again and again, so YAML::LoadAll would
// collect documents until memory runs out. A document that starts where the previous one did
// throws keel::Error(config) naming `where`, the line and column instead.
size_t count_yaml_documents(const std::string& text, const std::string& where);

// Walks `root` as if aliases were copied out and throws keel::Error(config) naming `where` once
// more than kMaxYamlValues values have been seen. Stops at that count, so it is always fast.
void check_yaml_expansion(const YAML::Node& root, const std::string& where);

}  // namespace keel::config_detail
