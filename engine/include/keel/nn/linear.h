// Linear: a fully connected layer y = x wᵀ + b over (N, features) inputs.
// Forward and backward call ops.h, so it runs on any device.
#pragma once

#include <cstdint>
#include <string>

#include "keel/nn/init.h"
#include "keel/nn/module.h"
#include "keel/nn/reduced_operands.h"

namespace keel::nn {

class Linear : public Module {
 public:
  // Weight and bias drawn from gen by `init`, PyTorch's default initialisation unless given.
  Linear(Generator& gen, int64_t in_features, int64_t out_features, bool bias = true,
         const InitFn& init = default_init_);

  // x: (N, in) -> y: (N, out)
  const Tensor& forward(const Tensor& x) override;
  // dy: (N, out) -> dx: (N, in); fills weight().grad (out, in) and the bias grad (out)
  const Tensor& backward(const Tensor& dy) override;
  std::string describe() const override;
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;

  Parameter& weight() { return weight_; }
  Parameter* bias() { return has_bias_ ? &bias_ : nullptr; }
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

 protected:
  void drop_views() override { input_ = Tensor(); }

 private:
  int64_t in_features_, out_features_;
  bool has_bias_;
  Parameter weight_, bias_;
  Tensor input_;
  Tensor y_, dx_, none_;
  detail::ReducedOperands operands_;  // the GEMM inputs at precision() (fp32: none)
};

}  // namespace keel::nn
