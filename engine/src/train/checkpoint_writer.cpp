#include "checkpoint_writer.h"

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
  wait();
  if (!in_background_ || durability == Durability::fsync) {
    save_checkpoint(path, c, durability);
    return;
  }
  in_flight_ = std::async(std::launch::async, [path, c = std::move(c), durability] {
    save_checkpoint(path, c, durability);
  });
}

}  // namespace keel::train
