// Softmax cross-entropy and the row-wise prediction on the CUDA device.
#include "loss.cuh"
#include "cuda/allocator.h"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/op_util.h"

namespace keel::cuda {

// logits: (N, K), labels: (N) -> loss: (1), probs: (N, K)
void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& loss,
                                   Tensor& probs) {
  const int64_t n = logits.dim(0), k = logits.dim(1);
  loss.ensure(Shape{1}, Device::cuda);
  probs.ensure(logits.shape(), Device::cuda);
  Scratch row_loss(static_cast<size_t>(n) * sizeof(float));
  launch_softmax_cross_entropy_forward(logits.data(), labels.data(), n, k, probs.data(), row_loss.as(),
                                       loss.data(), stream());
}

void softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, Tensor& dlogits) {
  const int64_t n = probs.dim(0), k = probs.dim(1);
  dlogits.ensure(probs.shape(), Device::cuda);
  launch_softmax_cross_entropy_backward(probs.data(), labels.data(), n, k, dlogits.data(), stream());
}

void argmax_rows(const Tensor& logits, Tensor& pred) {
  pred.ensure(Shape{logits.dim(0)}, Device::cuda);
  launch_argmax_rows(logits.data(), logits.dim(0), logits.dim(1), pred.data(), stream());
}

}  // namespace keel::cuda
