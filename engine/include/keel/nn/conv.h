// Conv2d: a 2-D convolution layer over NCHW images (square kernel, equal stride and padding on
// both axes), with an optional bias. Forward and backward call ops.h, so it runs on any device.
#pragma once

#include <cstdint>
#include <string>

#include "keel/nn/init.h"
#include "keel/nn/module.h"
#include "keel/nn/reduced_operands.h"
#include "keel/ops.h"

namespace keel::nn {

class Conv2d : public Module {
 public:
  // Weight and bias drawn from gen by `init`, PyTorch's default initialisation unless given.
  Conv2d(Generator& gen, int64_t in_channels, int64_t out_channels, int kernel, int stride = 1,
         int padding = 0, bool bias = true, const InitFn& init = default_init_);

  // x: (N, in, H, W) -> y: (N, out, H', W'), H' = (H + 2 padding - kernel) / stride + 1
  const Tensor& forward(const Tensor& x) override;
  // dy: (N, out, H', W') -> dx: (N, in, H, W); fills weight().grad (out, in, k, k), bias grad (out)
  const Tensor& backward(const Tensor& dy) override;
  std::string describe() const override;
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;

  Parameter& weight() { return weight_; }
  Parameter* bias() { return has_bias_ ? &bias_ : nullptr; }
  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  int kernel() const { return kernel_; }
  Conv2dArgs args() const { return args_; }

 protected:
  void drop_views() override { input_ = Tensor(); }

 private:
  int64_t in_channels_, out_channels_;
  int kernel_;
  Conv2dArgs args_;
  bool has_bias_;
  Parameter weight_, bias_;
  Tensor input_;  // view of the last forward's input, for the backward pass
  Tensor y_, dx_, none_;
  detail::ReducedOperands operands_;  // the GEMM inputs at precision() (fp32: none)
};

}  // namespace keel::nn
