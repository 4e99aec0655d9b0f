// Conv2d (see keel/nn/conv.h): keeps a view of its input for the backward pass and reuses its
// output and gradient buffers, so steps after the first allocate nothing.
#include "keel/nn/conv.h"

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/nn/init.h"

namespace keel::nn {

Conv2d::Conv2d(Generator& gen, int64_t in_channels, int64_t out_channels, int kernel, int stride,
               int padding, bool bias, const InitFn& init)
    : in_channels_(in_channels),
      out_channels_(out_channels),
      kernel_(kernel),
      args_{stride, padding},
      has_bias_(bias) {
  if (in_channels <= 0 || out_channels <= 0 || kernel <= 0 || stride <= 0 || padding < 0) {
    throw Error(ErrorKind::usage,
                fmt::format("Conv2d({} -> {}, kernel {}, stride {}, padding {}): channels, kernel "
                            "and stride must be positive and padding non-negative",
                            in_channels, out_channels, kernel, stride, padding));
  }
  weight_.value = Tensor(Shape{out_channels, in_channels, kernel, kernel});
  weight_.grad = Tensor::zeros(weight_.value.shape());
  if (has_bias_) {
    bias_.value = Tensor(Shape{out_channels});
    bias_.grad = Tensor::zeros(bias_.value.shape());
    bias_.decay = false;
  }
  init(weight_.value, bias_.value, gen);
}

const Tensor& Conv2d::forward(const Tensor& x) {
  if (x.ndim() != 4 || x.dim(1) != in_channels_) {
    throw Error(ErrorKind::runtime, fmt::format("{}: expected input (N, {}, H, W), got {}",
                                                describe(), in_channels_, x.shape().str()));
  }
  input_ = operands_.input(x, precision());
  conv2d_forward(input_, operands_.weight(weight_.value, precision()), bias_.value, y_, args_);
  return y_;
}

const Tensor& Conv2d::backward(const Tensor& dy) {
  Tensor* db = has_bias_ ? &bias_.grad : nullptr;
  conv2d_backward(input_, operands_.weight(weight_.value, precision()),
                  operands_.output_grad(dy, precision()), input_grad() ? &dx_ : nullptr,
                  weight_.grad, db, args_);
  return input_grad() ? dx_ : none_;
}

std::string Conv2d::describe() const {
  return fmt::format("Conv2d({} -> {}, kernel {}, stride {}, pad {}{})", in_channels_,
                     out_channels_, kernel_, args_.stride, args_.padding,
                     has_bias_ ? "" : ", no bias");
}

void Conv2d::visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {
  visit(prefix + "weight", weight_);
  if (has_bias_) visit(prefix + "bias", bias_);
}

}  // namespace keel::nn
