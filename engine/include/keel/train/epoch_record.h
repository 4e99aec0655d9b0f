// EpochRecord: what the Trainer reports after every epoch (its hooks, its history, a checkpoint).
#pragma once

#include <limits>

namespace keel::train {

inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

// The state at the end of an epoch (a job writes one row of its metrics file from each). The
// val_* fields are NaN when fit had no validation images. `fold` is the Trainer's `fold` argument,
// which a caller training several models numbers so that each (fold, epoch) pair is unique.
struct EpochRecord {
  int epoch = 0;  // 1-based
  int fold = 0;
  double train_loss = kNoValue;
  double val_loss = kNoValue;
  double val_accuracy = kNoValue;
  double lr = kNoValue;     // learning rate at the end of the epoch (the head's, for groups)
  double beta1 = kNoValue;  // AdamW beta1 / SGD momentum at the end of the epoch
  double seconds = kNoValue;
};

}  // namespace keel::train
