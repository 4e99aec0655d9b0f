// Linear (see keel/nn/linear.h): y = x wᵀ + b with reused output and gradient buffers.
#include "keel/nn/linear.h"

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/nn/init.h"
#include "keel/ops.h"

namespace keel::nn {

Linear::Linear(Generator& gen, int64_t in_features, int64_t out_features, bool bias,
               const InitFn& init)
    : in_features_(in_features), out_features_(out_features), has_bias_(bias) {
  if (in_features <= 0 || out_features <= 0) {
    throw Error(ErrorKind::usage, fmt::format("Linear({} -> {}): feature counts must be positive",
                                              in_features, out_features));
  }
  weight_.value = Tensor(Shape{out_features, in_features});
  weight_.grad = Tensor::zeros(weight_.value.shape());
  if (has_bias_) {
    bias_.value = Tensor(Shape{out_features});
    bias_.grad = Tensor::zeros(bias_.value.shape());
    bias_.decay = false;
  }
  init(weight_.value, bias_.value, gen);
}

const Tensor& Linear::forward(const Tensor& x) {
  if (x.ndim() != 2 || x.dim(1) != in_features_) {
    throw Error(ErrorKind::runtime,
                fmt::format("{}: expected input (N, {}), got {}{}", describe(), in_features_,
                            x.shape().str(), x.ndim() > 2 ? " (put a Flatten before it)" : ""));
  }
  input_ = operands_.input(x, precision());
  linear_forward(input_, operands_.weight(weight_.value, precision()), bias_.value, y_);
  return y_;
}

const Tensor& Linear::backward(const Tensor& dy) {
  Tensor* db = has_bias_ ? &bias_.grad : nullptr;
  linear_backward(input_, operands_.weight(weight_.value, precision()),
                  operands_.output_grad(dy, precision()), input_grad() ? &dx_ : nullptr,
                  weight_.grad, db);
  return input_grad() ? dx_ : none_;
}

std::string Linear::describe() const {
  return fmt::format("Linear({} -> {}{})", in_features_, out_features_,
                     has_bias_ ? "" : ", no bias");
}

void Linear::visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {
  visit(prefix + "weight", weight_);
  if (has_bias_) visit(prefix + "bias", bias_);
}

}  // namespace keel::nn
