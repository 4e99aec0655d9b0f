// Batch-norm kernels over x: (N, C, plane) (plane = H·W, or 1 for BatchNorm1d). The channel sums
// come from reduce.cuh; these kernels turn them into statistics and apply or differentiate them.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace keel::cuda {

inline constexpr int kBatchNormBlock = 256;

// mean[c] = Σ_parts partials[c, ·, 0] / m
void launch_bn_mean(const float* partials, int64_t c, int parts, int64_t m, float* mean, cudaStream_t stream);
// From Σ (x - mean)²: invstd = 1 / sqrt(var + eps) (biased var), and the running statistics
// r = (1 - momentum) r + momentum · batch, with the unbiased variance for running_var.
void launch_bn_finish_stats(const float* partials, int64_t c, int parts, int64_t m, float eps,
                            float momentum, const float* mean, float* invstd, float* running_mean,
                            float* running_var, cudaStream_t stream);
// y = (x - mean) · invstd · gamma + beta
void launch_bn_apply(const float* x, const float* mean, const float* invstd, const float* gamma,
                     const float* beta, float* y, int64_t n, int64_t c, int64_t plane, cudaStream_t stream);
// Evaluation: y = (x - running_mean) / sqrt(running_var + eps) · gamma + beta
void launch_bn_eval(const float* x, const float* running_mean, const float* running_var, float eps,
                    const float* gamma, const float* beta, float* y, int64_t n, int64_t c, int64_t plane,
                    cudaStream_t stream);
// From (Σ dy, Σ dy·x̂) partials: dbeta, dgamma.
void launch_bn_backward_sums(const float* partials, int64_t c, int parts, float* dgamma, float* dbeta,
                             cudaStream_t stream);
// dx = gamma · invstd / m · (m · dy - dbeta - x̂ · dgamma)
void launch_bn_backward_dx(const float* x, const float* dy, const float* mean, const float* invstd,
                           const float* gamma, const float* dgamma, const float* dbeta, float* dx,
                           int64_t n, int64_t c, int64_t plane, cudaStream_t stream);

}  // namespace keel::cuda
