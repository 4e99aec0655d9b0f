// Helpers shared by the keel::data sources: strict number parsing, data errors that point at a
// file position, and whole-file writes that never leave a partial file behind.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "keel/error.h"

namespace keel::data::detail {

// A decimal number (optional sign, digits, optional fraction and exponent) and nothing else;
// nullopt for anything else, including surrounding spaces, "nan" and "inf".
std::optional<double> parse_double(std::string_view text);
// A base-10 integer that fits in int64 and nothing else.
std::optional<int64_t> parse_int(std::string_view text);

// keel::Error(ErrorKind::data) that starts with "<file>, line L, column C (<name>): " so every
// message about a bad cell reads the same. column <= 0 leaves the column part out.
Error data_error_at(const std::string& file, int64_t line, int column, std::string_view column_name,
                    std::string_view problem);

// Writes `bytes` to a temporary file next to `path` and renames it over `path`, so readers see the
// old file or the new one, never half of one. Creates missing parent folders.
void write_file_atomic(const std::string& path, std::string_view bytes);

// The temporary name write_file_atomic uses for `path` (also used for PNG files written by stb).
std::string temporary_path_for(const std::string& path);

// Renames tmp over path, removing tmp and throwing a data error naming `path` on failure.
void commit_temporary(const std::string& tmp, const std::string& path);

}  // namespace keel::data::detail
