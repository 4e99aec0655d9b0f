// AtomicFile: an output file that readers see whole or not at all (the old one stays till then).
// Checkpoints, submission.csv, summary.json and report.html use it: Ctrl-C never leaves half a file
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace keel::train {

// fsync: the new contents survive a power cut once commit() returns. rename_only: the swap is still
// atomic for readers and against a crash of the program, without the cost of flushing the disk
// (per-epoch checkpoints, where an fsync per epoch would dominate a sub-second GPU run).
enum class Durability { fsync, rename_only };

// Bytes go to `<path>.tmp-<pid>-<n>` in the same folder (so the final rename never crosses a file
// system); commit() flushes, fsyncs and renames it over `path`. Destroying an uncommitted
// AtomicFile removes the temporary, so an exception between open and commit leaves the previous
// file untouched.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path, Durability durability = Durability::fsync);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view bytes);
  // Makes the new contents visible at path(); after this the object holds nothing.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  bool committed() const { return committed_; }

 private:
  void write_all(std::string_view bytes);
  void close_and_remove() noexcept;

  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
  Durability durability_;
};

// The whole of `bytes` becomes the contents of `path`, or (on error) nothing changes.
void write_file_atomically(const std::string& path, std::string_view bytes,
                           Durability durability = Durability::fsync);

// Creates `path` and its parents when missing; throws keel::Error (runtime) naming the folder
// when it cannot be created or is not a folder.
void create_directories(const std::string& path);

}  // namespace keel::train
