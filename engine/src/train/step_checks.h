// The arithmetic behind the Trainer's non-finite guard and gradient clipping: sums of squares (and
// finiteness flags) of many tensors computed on their own device and read back in one copy, and
// the clip factor.
#pragma once

#include <vector>

#include "keel/tensor.h"

namespace keel::train::detail {

// Σ x² of each of a list of tensors, plus one scalar the caller wants in the same read (the loss).
// Each sum is the flattened tensor times itself through linear_forward, so it runs on whichever
// device holds the tensors without an op of its own; the results land in one small buffer, so a
// GPU is waited for once per read, not once per tensor. The buffer is kept: after the first read
// nothing is allocated.
class SquareSums {
 public:
  // Returns {Σ x² of tensors[0], ..., Σ x² of tensors[n-1], extra} (extra only when given; a
  // one-element tensor on the same device). A non-finite element makes its sum non-finite.
  std::vector<float> read(const std::vector<const Tensor*>& tensors, const Tensor* extra = nullptr);

  // One value per tensor: 0 when every element is finite, NaN otherwise. Exact where a sum of
  // squares is not (squares of finite values above 1.8e19 overflow): the sum of squares of 0 · x,
  // which is 0 for a finite element and NaN for an infinite or NaN one.
  std::vector<float> non_finite_flags(const std::vector<const Tensor*>& tensors);
  // Allocates now what non_finite_flags needs for these tensors, so that its first call (at the
  // end of the first epoch, after a GPU run captured its step) allocates nothing and the captured
  // step stays valid.
  void reserve_flags(const std::vector<const Tensor*>& tensors);

 private:
  Tensor slots_;   // (n [+ 1], 1) on the tensors' device
  Tensor zeroed_;  // 0 · x of the largest tensor, reused for each
};

// PyTorch's clip_grad_norm_: the factor max_norm / (norm + 1e-6), capped at 1 (no scaling).
double clip_factor(double norm, double max_norm);

}  // namespace keel::train::detail
