// DataParallel: one model trained by every rank of the job (dist.mode: data), each on its share of
// every global batch. The gradients live in one flat buffer, so one all-reduce adds up the shares.
#pragma once

#include <cstdint>
#include <vector>

#include "keel/nn/module.h"
#include "keel/tensor.h"

namespace keel::train::detail {

struct RowRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

class DataParallel {
 public:
  // After the model is on its device: rebinds every parameter's gradient to a view of one flat
  // buffer, and turns on the batch-norm layers' synchronised statistics when asked.
  DataParallel(nn::Module& model, Device device, bool sync_batch_norm);

  // This rank's rows of a global batch of `rows`: contiguous, in rank order, sizes differing by at
  // most one (equal when the world size divides the batch).
  RowRange shard(int64_t rows) const;
  // Every rank starts from rank 0's parameters and buffers.
  void broadcast_weights();
  // Rank 0's batch-norm running statistics (each rank's follow its own shares, as in PyTorch's
  // DDP), before an evaluation or a checkpoint, so every rank evaluates and decides alike.
  void broadcast_buffers();
  // Sums the gradients over the ranks; each rank scaled its loss gradient by its share of the
  // batch's rows, so the sum is the gradient of the global batch's mean loss.
  void sum_gradients();

 private:
  void rebind_gradients();

  nn::Module& model_;
  std::vector<nn::Parameter*> params_;
  Tensor flat_grads_;
};

}  // namespace keel::train::detail
