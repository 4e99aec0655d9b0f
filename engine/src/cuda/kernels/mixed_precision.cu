// Mixed-precision kernels (see mixed_precision.cuh): grid-stride loops over the elements, and one
// thread for the scale update.
#include "grid_stride.cuh"
#include "mixed_precision.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/check.h"
#include "cuda/context.h"

namespace keel::cuda {

namespace {

__global__ void round_to_half_kernel(const float* x, float* y, size_t n) {
  KEEL_GRID_STRIDE(i, n) y[i] = __half2float(__float2half_rn(x[i]));
}

__global__ void round_to_bfloat16_kernel(const float* x, float* y, size_t n) {
  KEEL_GRID_STRIDE(i, n) y[i] = __bfloat162float(__float2bfloat16_rn(x[i]));
}

__global__ void apply_loss_scale_kernel(const float* x, const LossScaleState* state, float* y,
                                        size_t n) {
  const float factor = state->scale;
  KEEL_GRID_STRIDE(i, n) y[i] = factor * x[i];
}

__global__ void unscale_gradients_kernel(float* grad, size_t n, LossScaleState* state) {
  // The same float reciprocal as the CPU op, so both devices unscale to the same bits.
  const float inverse = 1.0f / state->scale;
  bool found = false;
  KEEL_GRID_STRIDE(i, n) {
    const float g = grad[i];
    found |= !isfinite(g);
    grad[i] = inverse * g;
  }
  if (found) state->found_inf = 1.0f;
}

__global__ void loss_scale_update_kernel(LossScaleState* state, LossScaleRule rule) {
  update_loss_scale(*state, rule);
}

}  // namespace

void launch_round_to_half(const float* x, float* y, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  round_to_half_kernel<<<grid_for(n, kMixedPrecisionBlock), kMixedPrecisionBlock, 0, stream>>>(x, y,
                                                                                               n);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_round_to_bfloat16(const float* x, float* y, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  round_to_bfloat16_kernel<<<grid_for(n, kMixedPrecisionBlock), kMixedPrecisionBlock, 0, stream>>>(
      x, y, n);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_apply_loss_scale(const float* x, const LossScaleState* state, float* y, size_t n,
                             cudaStream_t stream) {
  if (n == 0) return;
  apply_loss_scale_kernel<<<grid_for(n, kMixedPrecisionBlock), kMixedPrecisionBlock, 0, stream>>>(
      x, state, y, n);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_unscale_gradients(float* grad, size_t n, LossScaleState* state, cudaStream_t stream) {
  if (n == 0) return;
  unscale_gradients_kernel<<<grid_for(n, kMixedPrecisionBlock), kMixedPrecisionBlock, 0, stream>>>(
      grad, n, state);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_loss_scale_update(LossScaleState* state, LossScaleRule rule, cudaStream_t stream) {
  loss_scale_update_kernel<<<1, 1, 0, stream>>>(state, rule);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
