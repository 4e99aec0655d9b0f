// AtomicFile and output-folder creation: write a temporary in the target folder, fsync, rename.
// POSIX rename() replaces the destination atomically, which is what makes a killed run harmless.
#include "keel/train/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "keel/error.h"
#include "train/pause_point.h"

namespace keel::train {
namespace {

// Distinguishes temporaries of several AtomicFiles open at once in one process.
std::atomic<uint64_t> temp_counter{0};

std::string errno_text(int err) {
  return std::strerror(err);
}

std::string parent_folder(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// The rename is only durable once the folder entry itself reaches the disk; failing to sync a
// folder (some file systems refuse) does not make the new file wrong, so it is not an error.
void sync_folder(const std::string& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, Durability durability)
    : path_(std::move(path)), durability_(durability) {
  temp_path_ =
      fmt::format("{}.tmp-{}-{}", path_, static_cast<long>(::getpid()), temp_counter.fetch_add(1));
  // O_EXCL: never write through a stale temporary or a link someone left at that name.
  int fd = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    throw Error(ErrorKind::runtime,
                fmt::format("cannot write {}: {} (while creating {}); check that folder {} exists "
                            "and is writable, or pass --out with a writable folder",
                            path_, errno_text(err), temp_path_, parent_folder(path_)));
  }
  file_ = ::fdopen(fd, "wb");
  if (file_ == nullptr) {
    int err = errno;
    ::close(fd);
    ::unlink(temp_path_.c_str());
    throw Error(ErrorKind::runtime, fmt::format("cannot write {}: {}", path_, errno_text(err)));
  }
}

AtomicFile::~AtomicFile() {
  if (!committed_) close_and_remove();
}

void AtomicFile::close_and_remove() noexcept {
  if (file_ != nullptr) {
    std::fclose(file_);
    file_ = nullptr;
  }
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFile::write(std::string_view bytes) {
  if (committed_ || file_ == nullptr) {
    throw Error(ErrorKind::runtime,
                fmt::format("internal error: write to {} after it was committed", path_));
  }
  if (bytes.empty()) return;
  // In two halves, so a test can stop the program with half the file on disk (pause_point.h).
  const size_t half = bytes.size() / 2;
  write_all(bytes.substr(0, half));
  detail::pause_point("mid_write", path_, file_);
  write_all(bytes.substr(half));
}

void AtomicFile::write_all(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    int err = errno;
    throw Error(ErrorKind::runtime,
                fmt::format("cannot write {}: {}; free some disk space or pass --out with another "
                            "folder",
                            path_, errno_text(err)));
  }
}

void AtomicFile::commit() {
  if (committed_ || file_ == nullptr) {
    throw Error(ErrorKind::runtime, fmt::format("internal error: {} committed twice", path_));
  }
  auto fail = [&](const char* step, int err) {
    close_and_remove();
    return Error(ErrorKind::runtime,
                 fmt::format("cannot write {}: {} failed: {}; free some disk space or pass --out "
                             "with another folder",
                             path_, step, errno_text(err)));
  };
  if (std::fflush(file_) != 0) throw fail("flush", errno);
  if (durability_ == Durability::fsync && ::fsync(::fileno(file_)) != 0) throw fail("fsync", errno);
  std::FILE* file = std::exchange(file_, nullptr);
  if (std::fclose(file) != 0) throw fail("close", errno);
  detail::pause_point("before_rename", path_);
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) throw fail("rename", errno);
  committed_ = true;
  detail::pause_point("after_rename", path_);
  if (durability_ == Durability::fsync) sync_folder(parent_folder(path_));
}

void write_file_atomically(const std::string& path, std::string_view bytes, Durability durability) {
  AtomicFile file(path, durability);
  file.write(bytes);
  file.commit();
}

void create_directories(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    throw Error(ErrorKind::runtime,
                fmt::format("cannot create output folder {}: {}; pass --out with a writable folder",
                            path, ec.message()));
  }
  if (!std::filesystem::is_directory(path, ec)) {
    throw Error(
        ErrorKind::runtime,
        fmt::format("cannot create output folder {}: a file of that name exists; pass --out "
                    "with a writable folder",
                    path));
  }
}

}  // namespace keel::train
