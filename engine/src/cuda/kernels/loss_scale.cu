// The loss scaler's kernels (see loss_scale.cuh): grid-stride loops over the elements, and one
// thread for the scale update.
#include "grid_stride.cuh"
#include "loss_scale.cuh"

#include "cuda/check.h"
#include "cuda/context.h"

namespace keel::cuda {

namespace {

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

void launch_apply_loss_scale(const float* x, const LossScaleState* state, float* y, size_t n,
                             cudaStream_t stream) {
  if (n == 0) return;
  apply_loss_scale_kernel<<<grid_for(n, kLossScaleBlock), kLossScaleBlock, 0, stream>>>(x, state, y,
                                                                                        n);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_unscale_gradients(float* grad, size_t n, LossScaleState* state, cudaStream_t stream) {
  if (n == 0) return;
  unscale_gradients_kernel<<<grid_for(n, kLossScaleBlock), kLossScaleBlock, 0, stream>>>(grad, n,
                                                                                         state);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_loss_scale_update(LossScaleState* state, LossScaleRule rule, cudaStream_t stream) {
  loss_scale_update_kernel<<<1, 1, 0, stream>>>(state, rule);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
