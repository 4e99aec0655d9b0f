// check_yaml_nesting and check_yaml_expansion (see yaml_guard.h). Both are loops with an explicit
// counter or stack, never recursion, so their own depth does not depend on the input.
#include "yaml_guard.h"

#include <cctype>
#include <sstream>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <fmt/format.h>

#include "keel/error.h"

namespace keel::config_detail {

namespace {

// Where a bracket, quote or comment may begin: after a space, a line start or flow punctuation.
bool opens_token(char previous) {
  return std::isspace(static_cast<unsigned char>(previous)) || previous == ',' || previous == '[' ||
         previous == '{';
}

// The index just past a quoted scalar that starts at `begin` (the quote), or text.size() when it
// is not closed; `line` counts the line ends inside it.
size_t skip_quoted(std::string_view text, size_t begin, int& line) {
  const char quote = text[begin];
  for (size_t i = begin + 1; i < text.size(); ++i) {
    if (text[i] == '\n') ++line;
    if (quote == '"' && text[i] == '\\') {
      ++i;  // an escaped character, possibly a quote
      if (i < text.size() && text[i] == '\n') ++line;
    } else if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is a quote inside a single-quoted scalar
        continue;
      }
      return i + 1;
    }
  }
  return text.size();
}

// Records where each document starts and ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { last = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  YAML::Mark last = YAML::Mark::null_mark();
};

}  // namespace

size_t count_yaml_documents(const std::string& text, const std::string& where) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  size_t count = 0;
  int previous_pos = -1;
  while (parser.HandleNextDocument(starts)) {
    if (count > 0 && starts.last.pos == previous_pos) {
      throw Error(ErrorKind::config,
                  fmt::format("{}:{}:{}: YAML syntax error: the parser cannot go on at this "
                              "character (a `,` or `]` outside brackets?). Check the brackets and "
                              "commas on that line.",
                              where, starts.last.line + 1, starts.last.column + 1));
    }
    previous_pos = starts.last.pos;
    ++count;
  }
  return count;
}

void check_yaml_nesting(std::string_view text, const std::string& where) {
  int depth = 0;
  int line = 1;
  char previous = '\n';
  for (size_t i = 0; i < text.size(); previous = text[i], ++i) {
    const char c = text[i];
    const bool token_start = opens_token(previous);
    if (c == '\n') {
      ++line;
    } else if (c == '#' && token_start) {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;  // a comment, to the line end
    } else if ((c == '\'' || c == '"') && (token_start || depth > 0)) {
      i = skip_quoted(text, i, line) - 1;
    } else if ((c == '[' || c == '{') && (token_start || depth > 0)) {
      // Outside brackets, `[` inside a plain value (`name: a[1]`) is text, not a list.
      if (++depth > kMaxYamlNesting) {
        throw Error(ErrorKind::config,
                    fmt::format("{}:{}: brackets `[` / `{{` are nested more than {} deep; keel "
                                "reads configs nested at most {} deep (the keys in "
                                "configs/README.md need 4). Flatten the value or fix the "
                                "brackets.",
                                where, line, kMaxYamlNesting, kMaxYamlNesting));
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

void check_yaml_expansion(const YAML::Node& root, const std::string& where) {
  std::vector<YAML::Node> pending{root};
  int seen = 0;
  while (!pending.empty()) {
    const YAML::Node node = pending.back();
    pending.pop_back();
    if (++seen > kMaxYamlValues) {
      throw Error(ErrorKind::config,
                  fmt::format("{}: the config expands to more than {} values once its aliases "
                              "(`*name`) are replaced by what their anchors (`&name`) hold; a "
                              "config needs a few hundred. Write the values out instead of "
                              "aliasing aliases.",
                              where, kMaxYamlValues));
    }
    if (node.IsSequence()) {
      for (const YAML::Node& item : node) pending.push_back(item);
    } else if (node.IsMap()) {
      for (const auto& pair : node) {
        pending.push_back(pair.first);
        pending.push_back(pair.second);
      }
    }
  }
}

}  // namespace keel::config_detail
