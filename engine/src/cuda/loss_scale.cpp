// The loss scaler's ops on the CUDA device, whose state tensor stays in device memory (the twin of
// cpu/loss_scale.cpp; kernels in kernels/loss_scale.cu).
#include "loss_scale.cuh"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/op_util.h"

namespace keel::cuda {

namespace {
// The state's size is checked by the op layer.
LossScaleState* state_of(const Tensor& state, const char* op) {
  expect_cuda(state, op, "state");
  return reinterpret_cast<LossScaleState*>(state.data());
}
}  // namespace

void apply_loss_scale(const Tensor& x, const Tensor& state, Tensor& y) {
  expect_cuda(x, "apply_loss_scale", "x");
  const LossScaleState* s = state_of(state, "apply_loss_scale");
  y.ensure(x.shape(), Device::cuda);
  launch_apply_loss_scale(x.data(), s, y.data(), count(x), stream());
}

void unscale_gradients(Tensor& grad, Tensor& state) {
  expect_cuda(grad, "unscale_gradients", "grad");
  launch_unscale_gradients(grad.data(), count(grad), state_of(state, "unscale_gradients"),
                           stream());
}

void loss_scale_update(Tensor& state, const LossScaleRule& rule) {
  launch_loss_scale_update(state_of(state, "loss_scale_update"), rule, stream());
}

}  // namespace keel::cuda
