// SHA-256 (FIPS 180-4) of bytes or of a file, as lowercase hex: how a run names the exact weight
// file it started from, comparable with `sha256sum`.
#pragma once

#include <string>
#include <string_view>

namespace keel {

std::string sha256_hex(std::string_view bytes);
// Throws keel::Error(ErrorKind::data) naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace keel
