// Batch normalisation on the CUDA device (2d: x (N, C, H, W); 1d: x (N, C)). keel's path reduces
// each channel in two deterministic stages (reduce.cuh); GpuBackend::cudnn goes to cuDNN.
#include "batch_norm.cuh"
#include "elementwise.cuh"
#include "cuda/allocator.h"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/op_util.h"
#include "keel/runtime.h"
#include "reduce.cuh"
#if defined(KEEL_HAS_CUDNN)
#include "cudnn/cudnn_ops.h"
#endif

namespace keel::cuda {

namespace {

struct BnShape {
  int64_t n, c, plane;
};

// The op layer (op_shapes.cpp) has checked x and the per-channel operands.
BnShape bn_shape(const Tensor& x) {
  const int64_t plane = x.ndim() == 4 ? x.dim(2) * x.dim(3) : 1;
  return BnShape{x.dim(0), x.dim(1), plane};
}

// batch_norm_backward with dy as device memory shaped like x, so that the fused pair can pass the
// ReLU's gradient in a scratch block.
void backward_from(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                   const Tensor& save_invstd, const float* dy, Tensor& dx, Tensor& dgamma,
                   Tensor& dbeta) {
  const BnShape s = bn_shape(x);
  const Shape channels{s.c};
  dx.ensure(x.shape(), Device::cuda);
  dgamma.ensure(channels, Device::cuda);
  dbeta.ensure(channels, Device::cuda);
#if defined(KEEL_HAS_CUDNN)
  if (cudnn_selected() && cudnn::batch_norm_supported(0.0f))
    return cudnn::batch_norm_backward(x, gamma, save_mean, save_invstd, dy, dx, dgamma, dbeta);
#endif
  const int parts = channel_reduce_parts(s.n, s.plane);
  Scratch partials(static_cast<size_t>(s.c * parts * 2) * sizeof(float));
  launch_channel_partials(ChannelTerm::bn_backward, x.data(), dy, save_mean.data(), save_invstd.data(),
                          s.n, s.c, s.plane, parts, partials.as(), stream());
  launch_bn_backward_sums(partials.as(), s.c, parts, dgamma.data(), dbeta.data(), stream());
  launch_bn_backward_dx(x.data(), dy, save_mean.data(), save_invstd.data(), gamma.data(), dgamma.data(),
                        dbeta.data(), dx.data(), s.n, s.c, s.plane, stream());
}

}  // namespace

void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                              Tensor& running_var, float momentum, float eps, Tensor& y, Tensor& save_mean,
                              Tensor& save_invstd) {
  const BnShape s = bn_shape(x);
  const Shape channels{s.c};
  y.ensure(x.shape(), Device::cuda);
  save_mean.ensure(channels, Device::cuda);
  save_invstd.ensure(channels, Device::cuda);
#if defined(KEEL_HAS_CUDNN)
  if (cudnn_selected() && cudnn::batch_norm_supported(eps))
    return cudnn::batch_norm_forward_train(x, gamma, beta, running_mean, running_var, momentum, eps, y,
                                           save_mean, save_invstd);
#endif
  const int parts = channel_reduce_parts(s.n, s.plane);
  Scratch partials(static_cast<size_t>(s.c * parts * 2) * sizeof(float));
  const int64_t m = s.n * s.plane;
  // Two passes (mean, then squared deviations) instead of Σx and Σx²: no cancellation when the
  // mean is large against the spread.
  launch_channel_partials(ChannelTerm::value, x.data(), nullptr, nullptr, nullptr, s.n, s.c, s.plane, parts,
                          partials.as(), stream());
  launch_bn_mean(partials.as(), s.c, parts, m, save_mean.data(), stream());
  launch_channel_partials(ChannelTerm::centered_square, x.data(), nullptr, save_mean.data(), nullptr, s.n, s.c,
                          s.plane, parts, partials.as(), stream());
  launch_bn_finish_stats(partials.as(), s.c, parts, m, eps, momentum, save_mean.data(), save_invstd.data(),
                         running_mean.data(), running_var.data(), stream());
  launch_bn_apply(x.data(), save_mean.data(), save_invstd.data(), gamma.data(), beta.data(), y.data(), s.n, s.c,
                  s.plane, stream());
}

void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                             const Tensor& running_mean, const Tensor& running_var, float eps, Tensor& y) {
  const BnShape s = bn_shape(x);
  y.ensure(x.shape(), Device::cuda);
#if defined(KEEL_HAS_CUDNN)
  if (cudnn_selected() && cudnn::batch_norm_supported(eps) && s.n > 0)
    return cudnn::batch_norm_forward_eval(x, gamma, beta, running_mean, running_var, eps, y);
#endif
  launch_bn_eval(x.data(), running_mean.data(), running_var.data(), eps, gamma.data(), beta.data(), y.data(), s.n,
                 s.c, s.plane, stream());
}

void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  backward_from(x, gamma, save_mean, save_invstd, dy.data(), dx, dgamma, dbeta);
}

// The fused pair of the CPU backend, as its two steps: the CPU saves a pass over memory-bound
// activations that the device, at its bandwidth, barely notices.
void batch_norm_relu_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                   Tensor& running_mean, Tensor& running_var, float momentum,
                                   float eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  cuda::batch_norm_forward_train(x, gamma, beta, running_mean, running_var, momentum, eps, y,
                                 save_mean, save_invstd);
  launch_relu_forward(y.data(), y.data(), static_cast<size_t>(y.numel()), stream());
}

void batch_norm_relu_backward(const Tensor& x, const Tensor& y, const Tensor& gamma,
                              const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dy,
                              Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  // The ReLU's input gradient lives for this op only: a scratch block, not a tensor, whose
  // allocation would count as a lasting one and make a captured step stale after every eager step.
  const size_t count = static_cast<size_t>(y.numel());
  Scratch masked(count * sizeof(float));
  launch_relu_backward(y.data(), dy.data(), masked.as(), count, stream());
  backward_from(x, gamma, save_mean, save_invstd, masked.as(), dx, dgamma, dbeta);
}

}  // namespace keel::cuda
