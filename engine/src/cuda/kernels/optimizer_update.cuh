// Fused optimizer updates: one pass over param, grad and the moment buffers, in place.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

#include "live_values.cuh"

namespace keel::cuda {

inline constexpr int kOptimBlock = 256;

// PyTorch SGD: g = grad + wd·p; with momentum, v = first ? g : momentum·v + (1 - dampening)·g and
// g = nesterov ? g + momentum·v : v; p -= lr·g. With `live` (a captured graph's row, see
// live_values.cuh) lr and momentum are read from it instead.
void launch_sgd_update(float* param, const float* grad, float* velocity, size_t n, float lr,
                       float momentum, float dampening, float weight_decay, bool nesterov,
                       bool first_step, const LiveGroupRow* live, cudaStream_t stream);
// AdamW: p -= lr·wd·p; m, v moments; p -= lr · (m / bc1) / (sqrt(v / bc2) + eps). With `live`, lr,
// beta1 and both bias corrections are read from it instead.
void launch_adamw_update(float* param, const float* grad, float* m, float* v, size_t n, float lr,
                         float beta1, float beta2, float eps, float weight_decay,
                         float bias_correction1, float bias_correction2, const LiveGroupRow* live,
                         cudaStream_t stream);

}  // namespace keel::cuda
