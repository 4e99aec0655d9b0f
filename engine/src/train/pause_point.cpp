// pause_point (see pause_point.h): the variable is read once; hits are counted under a lock
// because checkpoints may be written on a background thread.
#include "train/pause_point.h"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>

#include "environment.h"

namespace keel::train::detail {

namespace {

struct PauseSpec {
  std::string point;
  std::string file;
  long nth = 0;  // 0: not armed
};

PauseSpec parse_spec(const std::string& s) {
  PauseSpec spec;
  if (s.empty()) return spec;
  const size_t first = s.find(':');
  if (first == std::string::npos) return spec;
  const size_t second = s.find(':', first + 1);
  spec.point = s.substr(0, first);
  spec.file = s.substr(first + 1, second == std::string::npos ? std::string::npos
                                                              : second - first - 1);
  spec.nth = second == std::string::npos ? 1 : std::atol(s.c_str() + second + 1);
  return spec;
}

const PauseSpec& spec() {
  static const PauseSpec parsed = parse_spec(std::string(environment::read("KEEL_PAUSE_AT")));
  return parsed;
}

}  // namespace

void pause_point(std::string_view point, const std::string& path, std::FILE* file) {
  const PauseSpec& s = spec();
  if (s.nth <= 0 || point != s.point) return;
  if (std::filesystem::path(path).filename() != s.file) return;
  static std::mutex mutex;
  static long hits = 0;
  std::lock_guard<std::mutex> lock(mutex);
  if (++hits != s.nth) return;
  if (file != nullptr) std::fflush(file);
  std::raise(SIGSTOP);
}

}  // namespace keel::train::detail
