// Strict number parsing, positioned data errors and atomic file writes for keel::data.
// std::from_chars is used because it neither skips spaces nor depends on the C locale.
#include "data/io_util.h"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace keel::data::detail {

namespace fs = std::filesystem;

std::optional<double> parse_double(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string_view body = text;
  if (body.front() == '+') body.remove_prefix(1);  // from_chars refuses a leading '+'
  double value = 0.0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value,
                                   std::chars_format::general);
  if (ec != std::errc() || end != body.data() + body.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> parse_int(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string_view body = text;
  if (body.front() == '+') body.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value, 10);
  if (ec != std::errc() || end != body.data() + body.size()) return std::nullopt;
  return value;
}

Error data_error_at(const std::string& file, int64_t line, int column, std::string_view column_name,
                    std::string_view problem) {
  std::string where = fmt::format("{}, line {}", file, line);
  if (column > 0) {
    where += fmt::format(", column {}", column);
    if (!column_name.empty()) where += fmt::format(" ({})", column_name);
  } else if (!column_name.empty()) {
    where += fmt::format(", column {}", column_name);
  }
  return Error(ErrorKind::data, fmt::format("{}: {}", where, problem));
}

std::string temporary_path_for(const std::string& path) {
  // The process id keeps two programs writing into one folder from sharing a temporary name.
  fs::path p(path);
  return (p.parent_path() / fmt::format(".{}.tmp{}", p.filename().string(), ::getpid())).string();
}

void commit_temporary(const std::string& tmp, const std::string& path) {
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw Error(ErrorKind::data, fmt::format("cannot move the finished file into place as {}: {}; "
                                             "check that the folder is writable",
                                             path, ec.message()));
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) {
    throw Error(ErrorKind::data, fmt::format("cannot create the folder {}: {}; check the output "
                                             "path and its permissions",
                                             parent.string(), ec.message()));
  }
  const std::string tmp = temporary_path_for(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    throw Error(ErrorKind::data, fmt::format("cannot write {}: {}; check the output path and its "
                                             "permissions",
                                             path, std::generic_category().message(errno)));
  }
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw Error(ErrorKind::data,
                fmt::format("writing {} failed (disk full?); nothing was replaced", path));
  }
  commit_temporary(tmp, path);
}

}  // namespace keel::data::detail
