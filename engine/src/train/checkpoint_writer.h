// Checkpoint writes off the training thread. Encoding plus writing a checkpoint after every epoch
// took a tenth of a small model's run (and a sixth of the flagship's k-fold, whose checkpoints hold
// every finished fold model), so where a core would otherwise idle (a GPU run's host, or a CPU run
// with fewer threads than cores) the (already host-side) checkpoint goes to one background write at
// a time. A CPU run that uses every core writes in place: a writer thread would only compete.
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
