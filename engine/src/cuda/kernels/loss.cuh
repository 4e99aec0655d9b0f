// Softmax cross-entropy and row argmax over logits: (N, K), labels: (N) class indices as floats.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace keel::cuda {

inline constexpr int kLossBlock = 256;

// probs = softmax(logits) per row; *loss = mean over rows of -log probs[label]. row_loss: (N)
// scratch. A label outside [0, K) makes that row's loss NaN (the device cannot throw).
void launch_softmax_cross_entropy_forward(const float* logits, const float* labels, int64_t n, int64_t k,
                                          float* probs, float* row_loss, float* loss, cudaStream_t stream);
// dlogits = (probs - onehot(labels)) / N
void launch_softmax_cross_entropy_backward(const float* probs, const float* labels, int64_t n, int64_t k,
                                           float* dlogits, cudaStream_t stream);
// pred[row] = index of the first maximum, as float
void launch_argmax_rows(const float* logits, int64_t n, int64_t k, float* pred, cudaStream_t stream);

}  // namespace keel::cuda
