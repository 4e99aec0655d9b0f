// The cuDNN 9 path of the CUDA backend: convolution and batch normalisation through cuDNN, picked
// inside keel::cuda's conv and batch-norm ops when keel::gpu_backend() == GpuBackend::cudnn.
// Outputs arrive already sized; shapes are checked by the caller.
#pragma once

#include "keel/ops.h"

namespace keel::cudnn {

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, Conv2dArgs a);
// dx (if not null) and dw; the bias gradient stays with keel's deterministic channel sum.
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw, Conv2dArgs a);

// cuDNN's batch norm is used unless deterministic mode asks for keel's fixed-order reductions
// (cuDNN does not document its batch-norm reductions as deterministic).
bool batch_norm_supported(float eps);
void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                              Tensor& running_var, float momentum, float eps, Tensor& y, Tensor& save_mean,
                              Tensor& save_invstd);
void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                             const Tensor& running_mean, const Tensor& running_var, float eps, Tensor& y);
// dy: device memory shaped like x (a tensor's, or an op's scratch block).
void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd,
                         const float* dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta);

}  // namespace keel::cudnn
