// Fuzz target: the safetensors reader. The first byte picks how the rest is used: even, as a whole
// file; odd, as the JSON header of a file that gets a valid length field and 256 data bytes, so
// that mutations reach the header and entry checks instead of stopping at the length. A file that
// parses has every tensor read back. keel::Error is the expected way to refuse an input; anything
// else is a finding.
#include <cstdint>
#include <string>

#include "keel/error.h"
#include "keel/io/safetensors.h"

namespace {

std::string with_valid_length(std::string_view header) {
  const uint64_t length = header.size();
  std::string file(reinterpret_cast<const char*>(&length), 8);
  file += header;
  for (int i = 0; i < 256; ++i) file.push_back(static_cast<char>(i));
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string bytes = (data[0] & 1) ? with_valid_length(rest) : std::string(rest);
  try {
    const keel::SafetensorsFile file = keel::parse_safetensors(bytes, "fuzz.safetensors");
    for (const auto& [name, tensor] : file.tensors) {
      if (tensor.numel() != 0 && tensor.to_vector().size() != static_cast<size_t>(tensor.numel()))
        std::abort();
    }
  } catch (const keel::Error&) {
  }
  return 0;
}
