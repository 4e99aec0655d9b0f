// Pooling layers over (N, C, H, W): max and average with a fixed window, adaptive max and average
// to a fixed output size, and fastai's AdaptiveConcatPool2d (max and average side by side).
#pragma once

#include <cstdint>
#include <string>

#include "keel/nn/module.h"
#include "keel/ops.h"

namespace keel::nn {

class MaxPool2d : public Module {
 public:
  // stride < 0 means stride = kernel (PyTorch's default).
  explicit MaxPool2d(int kernel, int stride = -1, int padding = 0);
  // x: (N, C, H, W) -> y: (N, C, H', W'), H' = (H + 2 padding - kernel) / stride + 1
  const Tensor& forward(const Tensor& x) override;
  const Tensor& backward(const Tensor& dy) override;
  std::string describe() const override;
  Pool2dArgs args() const { return args_; }

 protected:
  void drop_views() override { input_ = Tensor(); }

 private:
  Pool2dArgs args_;
  Tensor input_, y_, dx_, none_;
};

class AvgPool2d : public Module {
 public:
  // stride < 0 means stride = kernel. Padding counts as zeros (divisor kernel * kernel).
  explicit AvgPool2d(int kernel, int stride = -1, int padding = 0);
  // x: (N, C, H, W) -> y: (N, C, H', W')
  const Tensor& forward(const Tensor& x) override;
  const Tensor& backward(const Tensor& dy) override;
  std::string describe() const override;
  Pool2dArgs args() const { return args_; }

 private:
  Pool2dArgs args_;
  int64_t in_h_ = 0, in_w_ = 0;
  Tensor y_, dx_, none_;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(int64_t out_h = 1, int64_t out_w = -1);  // out_w < 0: out_h
  // x: (N, C, H, W) -> y: (N, C, out_h, out_w)
  const Tensor& forward(const Tensor& x) override;
  const Tensor& backward(const Tensor& dy) override;
  std::string describe() const override;
  int64_t out_h() const { return out_h_; }
  int64_t out_w() const { return out_w_; }

 private:
  int64_t out_h_, out_w_;
  int64_t in_h_ = 0, in_w_ = 0;
  Tensor y_, dx_, none_;
};

class AdaptiveMaxPool2d : public Module {
 public:
  explicit AdaptiveMaxPool2d(int64_t out_h = 1, int64_t out_w = -1);  // out_w < 0: out_h
  // x: (N, C, H, W) -> y: (N, C, out_h, out_w)
  const Tensor& forward(const Tensor& x) override;
  const Tensor& backward(const Tensor& dy) override;
  std::string describe() const override;
  int64_t out_h() const { return out_h_; }
  int64_t out_w() const { return out_w_; }

 protected:
  void drop_views() override { input_ = Tensor(); }

 private:
  int64_t out_h_, out_w_;
  Tensor input_, y_, dx_, none_;
};

// fastai's head pool: adaptive max pool, then adaptive average pool, concatenated on channels.
class AdaptiveConcatPool2d : public Module {
 public:
  explicit AdaptiveConcatPool2d(int64_t out = 1);
  // x: (N, C, H, W) -> y: (N, 2C, out, out), channels [0, C) max, [C, 2C) average
  const Tensor& forward(const Tensor& x) override;
  const Tensor& backward(const Tensor& dy) override;
  std::string describe() const override;
  int64_t out() const { return out_; }

 protected:
  void drop_views() override { input_ = Tensor(); }

 private:
  int64_t out_;
  int64_t channels_ = 0, in_h_ = 0, in_w_ = 0;
  Tensor input_, max_y_, avg_y_, y_;
  Tensor dmax_, davg_, dx_avg_, dx_, none_;
};

}  // namespace keel::nn
