// The Trainer's side of fp16 loss scaling (keel/loss_scaler.h): the scaler state as a tensor on the
// training device, driven through the ops that a captured GPU step could replay, and read on the
// host only where the trainer decides something from it.
#pragma once

#include <cstdint>
#include <vector>

#include "keel/loss_scaler.h"
#include "keel/nn/module.h"
#include "keel/tensor.h"
#include "keel/train/checkpoint.h"

namespace keel::train::detail {

class LossScaling {
 public:
  LossScaling(double initial_scale, int growth_interval, Device device);

  // dlogits *= scale, before the backward pass.
  void scale_loss_gradient(Tensor& dlogits);
  // Divides every gradient by the scale; true when one of them overflowed (a read of the state:
  // on a GPU it waits for the device).
  bool unscale(const std::vector<nn::Parameter*>& params);
  // The end of a step: backs off and counts an overflowed step, or counts a clean one.
  void update();

  LossScaleState state() const;
  // No smaller scale is left to back off to: the overflow is the values', not the scale's.
  bool at_minimum() const { return state().scale <= rule_.min_scale; }

  void save(Checkpoint& checkpoint, const std::string& prefix) const;
  void load(const Checkpoint& checkpoint, const std::string& prefix);

 private:
  LossScaleRule rule_;
  Tensor state_;  // (4): a LossScaleState
};

}  // namespace keel::train::detail
