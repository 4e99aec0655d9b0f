// check_text_file_limits: one stat for the size, then one pass over the bytes in fixed blocks to
// find the first over-long line, before any parser allocates a line's worth of memory.
#include "common/input_limits.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace keel::detail {

namespace {

[[noreturn]] void refuse(const TextFileLimits& limits, const std::string& where,
                         const std::string& problem) {
  throw Error(limits.kind, fmt::format("{}: {} {}", where, problem, limits.hint));
}

// The 1-based number of the first line longer than max_line_bytes, or 0 when there is none.
int64_t first_long_line(std::FILE* file, uint64_t max_line_bytes) {
  constexpr size_t kBlock = size_t{1} << 20;
  const auto block = std::make_unique_for_overwrite<char[]>(kBlock);
  int64_t line = 1;
  uint64_t length = 0;  // of the current line so far, a "\r" before "\n" included
  size_t n = 0;
  while ((n = std::fread(block.get(), 1, kBlock, file)) > 0) {
    for (const char* p = block.get(); p < block.get() + n;) {
      const char* newline = static_cast<const char*>(std::memchr(p, '\n', block.get() + n - p));
      const char* end = newline ? newline : block.get() + n;
      length += static_cast<uint64_t>(end - p);
      // A CRLF line end is no part of the line.
      const bool cr = newline && end > p && end[-1] == '\r';
      if (length - (cr ? 1 : 0) > max_line_bytes) return line;
      if (!newline) break;
      ++line;
      length = 0;
      p = newline + 1;
    }
  }
  return 0;
}

}  // namespace

std::string abbreviated(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  return fmt::format("{}... ({} characters in all)", text.substr(0, max), text.size());
}

std::string byte_count_text(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 20) && bytes % (uint64_t{1} << 20) == 0) {
    return fmt::format("{} MiB", bytes >> 20);
  }
  if (bytes >= 1024 && bytes % 1024 == 0) return fmt::format("{} KiB", bytes >> 10);
  return fmt::format("{} bytes", bytes);
}

void check_text_file_limits(const std::string& path, const TextFileLimits& limits) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return;
  const auto size = static_cast<uint64_t>(info.st_size);
  if (size > limits.max_bytes) {
    refuse(limits, path,
           fmt::format("the {} is {} bytes, more than keel reads ({}).", limits.what, size,
                       byte_count_text(limits.max_bytes)));
  }
  if (limits.max_line_bytes == 0) return;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return;  // the parser's own open reports it
  const int64_t line = first_long_line(file, limits.max_line_bytes);
  std::fclose(file);
  if (line > 0) {
    refuse(limits, fmt::format("{}, line {}", path, line),
           fmt::format("the line is longer than {}, the longest line keel reads in a {}.",
                       byte_count_text(limits.max_line_bytes), limits.what));
  }
}

}  // namespace keel::detail
