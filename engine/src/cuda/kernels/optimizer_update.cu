// Fused SGD and AdamW updates (see optimizer_update.cuh).
#include "grid_stride.cuh"
#include "optimizer_update.cuh"

#include "cuda/check.h"
#include "cuda/context.h"

namespace keel::cuda {

namespace {

__global__ void sgd_kernel(float* __restrict__ param, const float* __restrict__ grad,
                           float* __restrict__ velocity, size_t n, float lr, float momentum,
                           float dampening, float weight_decay, bool nesterov, bool first_step,
                           const LiveGroupRow* live) {
  if (live) {
    lr = live->lr;
    // Without a velocity buffer (a parameter whose optimizer keeps none) momentum stays 0.
    if (velocity) momentum = live->momentum;
  }
  KEEL_GRID_STRIDE(i, n) {
    float g = grad[i];
    if (weight_decay != 0.0f) g += weight_decay * param[i];
    if (momentum != 0.0f) {
      const float v = first_step ? g : momentum * velocity[i] + (1.0f - dampening) * g;
      velocity[i] = v;
      g = nesterov ? g + momentum * v : v;
    }
    param[i] -= lr * g;
  }
}

__global__ void adamw_kernel(float* __restrict__ param, const float* __restrict__ grad,
                             float* __restrict__ m, float* __restrict__ v, size_t n, float lr,
                             float beta1, float beta2, float eps, float weight_decay, float bc1,
                             float bc2, const LiveGroupRow* live) {
  if (live) {
    lr = live->lr;
    beta1 = live->momentum;
    bc1 = live->bias_correction1;
    bc2 = live->bias_correction2;
  }
  KEEL_GRID_STRIDE(i, n) {
    const float g = grad[i];
    float p = param[i];
    p -= lr * weight_decay * p;
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    p -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    param[i] = p;
  }
}

}  // namespace

void launch_sgd_update(float* param, const float* grad, float* velocity, size_t n, float lr,
                       float momentum, float dampening, float weight_decay, bool nesterov,
                       bool first_step, const LiveGroupRow* live, cudaStream_t stream) {
  if (n == 0) return;
  sgd_kernel<<<grid_for(n, kOptimBlock), kOptimBlock, 0, stream>>>(
      param, grad, velocity, n, lr, momentum, dampening, weight_decay, nesterov, first_step, live);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_adamw_update(float* param, const float* grad, float* m, float* v, size_t n, float lr,
                         float beta1, float beta2, float eps, float weight_decay,
                         float bias_correction1, float bias_correction2, const LiveGroupRow* live,
                         cudaStream_t stream) {
  if (n == 0) return;
  adamw_kernel<<<grid_for(n, kOptimBlock), kOptimBlock, 0, stream>>>(
      param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2,
      live);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
