// cuDNN batch normalisation (CUDNN_BATCHNORM_SPATIAL: one mean/variance per channel, like keel's).
// cuDNN's running update is r = (1 - f) r + f · batch with f = exponentialAverageFactor, so f is
// keel's momentum; its running variance uses the unbiased batch variance, as keel's spec does, and
// its saved inverse variance is 1/sqrt(var + eps), keel's save_invstd.
#include "cuda/context.h"
#include "cudnn/check.h"
#include "cudnn/cudnn_ops.h"
#include "cudnn/handle.h"
#include "keel/runtime.h"

namespace keel::cudnn {

cudnnHandle_t handle() {
  static cudnnHandle_t h = [] {
    cudnnHandle_t created = nullptr;
    KEEL_CUDNN_CHECK(cudnnCreate(&created));
    KEEL_CUDNN_CHECK(cudnnSetStream(created, cuda::stream()));
    return created;
  }();
  return h;
}

namespace {

// Descriptors for x (N, C, H, W) or (N, C) as (N, C, 1, 1), and the derived per-channel one.
struct BnDescriptors {
  cudnnTensorDescriptor_t x = nullptr, channel = nullptr;
  explicit BnDescriptors(const Tensor& t) {
    const int n = static_cast<int>(t.dim(0)), c = static_cast<int>(t.dim(1));
    const int h = t.ndim() == 4 ? static_cast<int>(t.dim(2)) : 1, w = t.ndim() == 4 ? static_cast<int>(t.dim(3)) : 1;
    KEEL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    KEEL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
    KEEL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&channel));
    KEEL_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(channel, x, CUDNN_BATCHNORM_SPATIAL));
  }
  ~BnDescriptors() {
    cudnnDestroyTensorDescriptor(channel);
    cudnnDestroyTensorDescriptor(x);
  }
  BnDescriptors(const BnDescriptors&) = delete;
  BnDescriptors& operator=(const BnDescriptors&) = delete;
};

}  // namespace

bool batch_norm_supported(float eps) {
  return !keel::deterministic() && static_cast<double>(eps) >= CUDNN_BN_MIN_EPSILON;
}

void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                              Tensor& running_var, float momentum, float eps, Tensor& y, Tensor& save_mean,
                              Tensor& save_invstd) {
  BnDescriptors d(x);
  const float one = 1.0f, zero = 0.0f;
  KEEL_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      handle(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, x.data(), d.x, y.data(), d.channel, gamma.data(),
      beta.data(), static_cast<double>(momentum), running_mean.data(), running_var.data(),
      static_cast<double>(eps), save_mean.data(), save_invstd.data()));
}

void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                             const Tensor& running_mean, const Tensor& running_var, float eps, Tensor& y) {
  BnDescriptors d(x);
  const float one = 1.0f, zero = 0.0f;
  KEEL_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
      handle(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, x.data(), d.x, y.data(), d.channel, gamma.data(),
      beta.data(), running_mean.data(), running_var.data(), static_cast<double>(eps)));
}

void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd,
                         const float* dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  BnDescriptors d(x);
  const float one = 1.0f, zero = 0.0f;
  // With the saved statistics passed in, epsilon is not used to recompute them.
  KEEL_CUDNN_CHECK(cudnnBatchNormalizationBackward(
      handle(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, d.x, x.data(), d.x, dy, d.x, dx.data(),
      d.channel, gamma.data(), dgamma.data(), dbeta.data(), 1e-5, save_mean.data(), save_invstd.data()));
}

}  // namespace keel::cudnn
