// Mixed-precision ops on the CUDA device: rounding to half / bfloat16 and the loss scaler, whose
// state tensor stays in device memory (kernels/mixed_precision.cuh).
#include "mixed_precision.cuh"
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

void round_to_precision(const Tensor& x, Precision precision, Tensor& y) {
  expect_cuda(x, "round_to_precision", "x");
  y.ensure(x.shape(), Device::cuda);
  switch (precision) {
    case Precision::fp32:
      if (y.data() != x.data()) y.copy_from(x);
      return;
    case Precision::fp16:
      launch_round_to_half(x.data(), y.data(), count(x), stream());
      return;
    case Precision::bf16:
      launch_round_to_bfloat16(x.data(), y.data(), count(x), stream());
      return;
  }
}

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
