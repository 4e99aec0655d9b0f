// CheckpointWriter: one checkpoint write in flight on a background thread, errors reported at the
// next write or wait (see checkpoint_writer.h).
#include "checkpoint_writer.h"

#include <exception>
#include <utility>

namespace keel::train {

CheckpointWriter::~CheckpointWriter() {
  if (!in_flight_.valid()) return;
  try {
    in_flight_.get();
  } catch (...) {
    // An error here means the run is already ending through another error; the file at the
    // checkpoint's path is then the previous complete checkpoint (writes are atomic).
  }
}

void CheckpointWriter::wait() {
  if (in_flight_.valid()) in_flight_.get();
}

void CheckpointWriter::write(const std::string& path, Checkpoint c, Durability durability) {
  if (!in_background_ || durability == Durability::fsync) {
    // A durable save (a stop, a finished model) is attempted even when an earlier background write
    // failed, so Ctrl-C still leaves a fresh checkpoint; the earlier error is reported after it.
    std::exception_ptr earlier;
    try {
      wait();
    } catch (...) {
      earlier = std::current_exception();
    }
    save_checkpoint(path, c, durability);
    if (earlier) std::rethrow_exception(earlier);
    return;
  }
  wait();
  in_flight_ = std::async(std::launch::async, [path, c = std::move(c), durability] {
    save_checkpoint(path, c, durability);
  });
}

}  // namespace keel::train
