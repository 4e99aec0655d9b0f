// Size limits for the text files keel reads (configs, CSVs), checked before a parser sees them, so
// a hostile or mistaken file (gigabytes, one endless line) ends with a clear error, not an OOM.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "keel/error.h"

namespace keel::detail {

// What a file is allowed to be, and how to talk about it in a message.
struct TextFileLimits {
  uint64_t max_bytes = 0;       // the whole file
  uint64_t max_line_bytes = 0;  // one line, without its line end; 0 = not checked
  ErrorKind kind = ErrorKind::data;
  std::string what;  // "config file", "CSV file"
  std::string hint;  // what to do instead, one sentence
};

// `text` as a message quotes it: whole up to `max` characters, else its start and how long it is,
// so a megabyte-long value cannot turn one paragraph into a megabyte of output.
std::string abbreviated(std::string_view text, size_t max = 80);

// "64 MiB", "1 MiB", "512 bytes": limits as the messages state them.
std::string byte_count_text(uint64_t bytes);

// Throws keel::Error(limits.kind) naming `path` when the file is larger than limits.max_bytes or
// (streaming through it in blocks, so memory stays small) has a line longer than
// limits.max_line_bytes, naming that line. A missing file passes: the caller reports it.
void check_text_file_limits(const std::string& path, const TextFileLimits& limits);

}  // namespace keel::detail
