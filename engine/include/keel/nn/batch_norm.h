// Batch normalisation over channels: BatchNorm2d for (N, C, H, W), BatchNorm1d for (N, C).
// Training normalises with batch statistics and updates the running ones; eval uses the running
// ones.
#pragma once

#include <cstdint>
#include <string>

#include "keel/nn/module.h"

namespace keel::nn {

class BatchNorm : public Module {
 public:
  // x: (N, C, H, W) when spatial, (N, C) otherwise -> y like x.
  const Tensor& forward(const Tensor& x) override;
  // Needs the statistics of a training-mode forward; fills weight (gamma) and bias (beta) grads.
  const Tensor& backward(const Tensor& dy) override;
  // The layer followed by a ReLU, in the passes of batch norm alone (Sequential uses these for a
  // BatchNorm directly followed by ReLU): y = max(bn(x), 0), and the backward pass of that pair,
  // dy being the gradient of the ReLU's output. Same results as the two layers.
  const Tensor& forward_relu(const Tensor& x);
  const Tensor& backward_relu(const Tensor& dy);
  std::string describe() const override;
  // "weight" (gamma, ones) and "bias" (beta, zeros); both have decay = false.
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;
  // "running_mean" (zeros) and "running_var" (ones), (C) each.
  void visit_buffers(const std::string& prefix, const BufferVisitor& visit) override;

  Parameter& weight() { return weight_; }
  Parameter& bias() { return bias_; }
  Tensor& running_mean() { return running_mean_; }
  Tensor& running_var() { return running_var_; }
  int64_t channels() const { return channels_; }
  float eps() const { return eps_; }
  float momentum() const { return momentum_; }
  // Data-parallel training (train.sync_batch_norm): training passes use the statistics of the
  // global batch, summed over the job's ranks (keel/dist.h), as PyTorch's SyncBatchNorm does.
  // Computed on the host: a CUDA layer's tensors go through host memory.
  void set_sync_across_ranks(bool on) { sync_ = on; }

 protected:
  BatchNorm(int64_t channels, float eps, float momentum, bool spatial);
  void drop_views() override;

 private:
  void check_input(const Tensor& x) const;
  // The synchronised training passes (batch_norm_sync.cpp): y_ and the saved statistics from the
  // global batch; dx_ from the global sums of dy and dy·x̂, the parameter gradients this rank's
  // share of them (the gradient all-reduce adds the shares up).
  void forward_train_synced(const Tensor& x);
  void backward_synced(const Tensor& dy);

  int64_t channels_;
  float eps_, momentum_;
  bool spatial_;
  Parameter weight_, bias_;
  Tensor running_mean_, running_var_;
  Tensor input_, save_mean_, save_invstd_;
  Tensor y_, dx_, none_;
  bool have_batch_stats_ = false;  // backward is only defined after a training-mode forward
  bool relu_ = false;              // whether the last forward applied the ReLU
  bool sync_ = false;
  Tensor relu_dy_;                 // the ReLU's backward output, for the synchronised pass
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t channels, float eps = 1e-5f, float momentum = 0.1f)
      : BatchNorm(channels, eps, momentum, true) {}
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t channels, float eps = 1e-5f, float momentum = 0.1f)
      : BatchNorm(channels, eps, momentum, false) {}
};

}  // namespace keel::nn
