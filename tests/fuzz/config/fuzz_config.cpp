// Fuzz target: the YAML config loader and `--set key=value` parsing. An input is a config text, a
// NUL byte and then one --set assignment per line. A config that loads must also survive the
// round trip through its resolved YAML (what config.resolved.yaml holds) unchanged; keel::Error
// is the expected way to refuse an input, anything else is a finding.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "keel/error.h"
#include "titanic/config.h"

namespace {

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    lines.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static keel::fuzz::ScratchDir dir;
  const auto [yaml, sets] = keel::fuzz::split_at_nul(data, size);
  const std::string path = dir.write("config.yaml", yaml);
  keel::Config config;
  try {
    config = keel::load_config(path);
    keel::apply_overrides(config, lines_of(sets));
  } catch (const keel::Error&) {
    return 0;
  }
  // The resolved config must read back as itself: a value that does not would make a resumed
  // run's config hash differ from the original's.
  const std::string resolved = keel::to_yaml(config);
  const keel::Config again = keel::parse_config(resolved, "resolved.yaml");
  if (keel::to_yaml(again) != resolved) std::abort();
  return 0;
}
