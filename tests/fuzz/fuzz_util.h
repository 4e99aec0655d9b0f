// Shared by the libFuzzer targets: a private scratch folder for inputs that the code under test
// reads from a file, and the split of one fuzz input into the parts a target needs.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::fuzz {

// One folder per fuzzing process, removed at exit; files keep fixed names so that messages (and
// the paths in them) do not vary between runs of the same input.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    path_ = std::string(tmp && *tmp ? tmp : "/tmp") + "/keel-fuzz-XXXXXX";
    if (!::mkdtemp(path_.data())) std::abort();
  }
  ~ScratchDir() {
    for (const std::string& f : written_) ::unlink(f.c_str());
    ::rmdir(path_.c_str());
  }
  // Writes `bytes` to <folder>/<name> and returns its path.
  std::string write(const std::string& name, std::string_view bytes) {
    const std::string file = path_ + "/" + name;
    std::FILE* f = std::fopen(file.c_str(), "wb");
    if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) std::abort();
    std::fclose(f);
    if (written_.size() < 16 && (written_.empty() || written_.back() != file)) {
      written_.push_back(file);
    }
    return file;
  }

 private:
  std::string path_;
  std::vector<std::string> written_;
};

// The bytes before the first NUL and those after it (empty when there is no NUL).
inline std::pair<std::string_view, std::string_view> split_at_nul(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  if (nul == std::string_view::npos) return {all, {}};
  return {all.substr(0, nul), all.substr(nul + 1)};
}

}  // namespace keel::fuzz
