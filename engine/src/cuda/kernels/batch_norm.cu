// Batch-norm kernels (see batch_norm.cuh): per-channel finishing steps in double, elementwise
// application with a grid-stride loop.
#include "batch_norm.cuh"
#include "grid_stride.cuh"

#include <cmath>

#include "cuda/check.h"
#include "cuda/context.h"

namespace keel::cuda {

namespace {

__device__ double sum_parts(const float* partials, int64_t ch, int parts, int slot) {
  double total = 0.0;
  for (int p = 0; p < parts; ++p) total += partials[(ch * parts + p) * 2 + slot];
  return total;
}

__global__ void bn_mean_kernel(const float* partials, int64_t c, int parts, int64_t m, float* mean) {
  const int64_t ch = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (ch >= c) return;
  mean[ch] = static_cast<float>(sum_parts(partials, ch, parts, 0) / static_cast<double>(m));
}

__global__ void bn_finish_stats_kernel(const float* partials, int64_t c, int parts, int64_t m, float eps,
                                       float momentum, const float* mean, float* invstd,
                                       float* running_mean, float* running_var) {
  const int64_t ch = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (ch >= c) return;
  const double squares = sum_parts(partials, ch, parts, 0);
  const double var = squares / static_cast<double>(m);
  invstd[ch] = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
  const double unbiased = m > 1 ? squares / static_cast<double>(m - 1) : var;
  const double mom = momentum;
  running_mean[ch] = static_cast<float>((1.0 - mom) * running_mean[ch] + mom * mean[ch]);
  running_var[ch] = static_cast<float>((1.0 - mom) * running_var[ch] + mom * unbiased);
}

__global__ void bn_apply_kernel(const float* __restrict__ x, const float* __restrict__ mean,
                                const float* __restrict__ invstd, const float* __restrict__ gamma,
                                const float* __restrict__ beta, float* __restrict__ y, size_t total,
                                int64_t c, int64_t plane) {
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ch = static_cast<int64_t>(i / plane) % c;
    y[i] = (x[i] - mean[ch]) * invstd[ch] * gamma[ch] + beta[ch];
  }
}

__global__ void bn_eval_kernel(const float* __restrict__ x, const float* __restrict__ running_mean,
                               const float* __restrict__ running_var, float eps,
                               const float* __restrict__ gamma, const float* __restrict__ beta,
                               float* __restrict__ y, size_t total, int64_t c, int64_t plane) {
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ch = static_cast<int64_t>(i / plane) % c;
    const float invstd = 1.0f / sqrtf(running_var[ch] + eps);
    y[i] = (x[i] - running_mean[ch]) * invstd * gamma[ch] + beta[ch];
  }
}

__global__ void bn_backward_sums_kernel(const float* partials, int64_t c, int parts, float* dgamma,
                                        float* dbeta) {
  const int64_t ch = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (ch >= c) return;
  dbeta[ch] = static_cast<float>(sum_parts(partials, ch, parts, 0));
  dgamma[ch] = static_cast<float>(sum_parts(partials, ch, parts, 1));
}

__global__ void bn_backward_dx_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                      const float* __restrict__ mean, const float* __restrict__ invstd,
                                      const float* __restrict__ gamma, const float* __restrict__ dgamma,
                                      const float* __restrict__ dbeta, float* __restrict__ dx,
                                      size_t total, int64_t c, int64_t plane, float inv_m) {
  KEEL_GRID_STRIDE(i, total) {
    const int64_t ch = static_cast<int64_t>(i / plane) % c;
    const float xhat = (x[i] - mean[ch]) * invstd[ch];
    dx[i] = gamma[ch] * invstd[ch] * (dy[i] - inv_m * dbeta[ch] - xhat * inv_m * dgamma[ch]);
  }
}

unsigned channel_grid(int64_t c) {
  return static_cast<unsigned>((c + kBatchNormBlock - 1) / kBatchNormBlock);
}

}  // namespace

void launch_bn_mean(const float* partials, int64_t c, int parts, int64_t m, float* mean, cudaStream_t stream) {
  bn_mean_kernel<<<channel_grid(c), kBatchNormBlock, 0, stream>>>(partials, c, parts, m, mean);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_bn_finish_stats(const float* partials, int64_t c, int parts, int64_t m, float eps,
                            float momentum, const float* mean, float* invstd, float* running_mean,
                            float* running_var, cudaStream_t stream) {
  bn_finish_stats_kernel<<<channel_grid(c), kBatchNormBlock, 0, stream>>>(
      partials, c, parts, m, eps, momentum, mean, invstd, running_mean, running_var);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_bn_apply(const float* x, const float* mean, const float* invstd, const float* gamma,
                     const float* beta, float* y, int64_t n, int64_t c, int64_t plane, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(n * c * plane);
  if (total == 0) return;
  bn_apply_kernel<<<grid_for(total, kBatchNormBlock), kBatchNormBlock, 0, stream>>>(x, mean, invstd, gamma,
                                                                                    beta, y, total, c, plane);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_bn_eval(const float* x, const float* running_mean, const float* running_var, float eps,
                    const float* gamma, const float* beta, float* y, int64_t n, int64_t c, int64_t plane,
                    cudaStream_t stream) {
  const size_t total = static_cast<size_t>(n * c * plane);
  if (total == 0) return;
  bn_eval_kernel<<<grid_for(total, kBatchNormBlock), kBatchNormBlock, 0, stream>>>(
      x, running_mean, running_var, eps, gamma, beta, y, total, c, plane);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_bn_backward_sums(const float* partials, int64_t c, int parts, float* dgamma, float* dbeta,
                             cudaStream_t stream) {
  bn_backward_sums_kernel<<<channel_grid(c), kBatchNormBlock, 0, stream>>>(partials, c, parts, dgamma,
                                                                           dbeta);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_bn_backward_dx(const float* x, const float* dy, const float* mean, const float* invstd,
                           const float* gamma, const float* dgamma, const float* dbeta, float* dx,
                           int64_t n, int64_t c, int64_t plane, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(n * c * plane);
  if (total == 0) return;
  const float inv_m = 1.0f / static_cast<float>(n * plane);
  bn_backward_dx_kernel<<<grid_for(total, kBatchNormBlock), kBatchNormBlock, 0, stream>>>(
      x, dy, mean, invstd, gamma, dgamma, dbeta, dx, total, c, plane, inv_m);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
