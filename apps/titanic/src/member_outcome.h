// What a finished model contributes to a run (history, counts, validation and test probabilities,
// weights) as one checkpoint-shaped record, so that it can be added to the results where it was
// trained or be sent to rank 0 first (dist.mode: folds) and added there in the same order.
#pragma once

#include "keel/nn/module.h"
#include "keel/train/checkpoint.h"
#include "keel/train/trainer.h"
#include "run_plan.h"

namespace keel::train::detail {

// After restore_best: evaluates `valid` and predicts `test_images` (on the training device).
Checkpoint member_outcome(Trainer& trainer, nn::Module& model, const LabelledImages& valid,
                          const Tensor& test_images);
// Adds one outcome to the results and its weights to `finished_models` as "model<index>.*".
// Members must be added in index order: the probability sums are then the same bits wherever
// each member was trained.
void add_outcome(Results& results, Checkpoint& finished_models, const Member& member,
                 const Checkpoint& outcome);

}  // namespace keel::train::detail
