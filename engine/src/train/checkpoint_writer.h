// Checkpoint writes off the training thread. On a GPU run the host mostly waits for the device, and
// encoding plus writing a checkpoint after every epoch took a tenth of a small model's run, so a GPU
// run hands the (already host-side) checkpoint to one background write at a time. A CPU run writes
// in place: its cores are busy training, and a writer thread would only compete with them.
#pragma once

#include <future>
#include <string>

#include "keel/train/checkpoint.h"

namespace keel::train {

class CheckpointWriter {
 public:
  explicit CheckpointWriter(bool in_background) : in_background_(in_background) {}
  ~CheckpointWriter();  // waits for a write in flight; its error, if any, was for wait() to report
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // Waits for the previous write (rethrowing its error), then writes `c`: in the background when
  // constructed so and durability is rename_only, else before returning. `c` must own its tensors
  // (nothing else may change them while it is written).
  void write(const std::string& path, Checkpoint c, Durability durability);
  // Returns when no write is in flight; rethrows the error of a failed one.
  void wait();

 private:
  bool in_background_;
  std::future<void> in_flight_;
};

}  // namespace keel::train
