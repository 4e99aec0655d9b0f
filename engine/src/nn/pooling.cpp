// Pooling layers (see keel/nn/pooling.h): thin wrappers over the pooling ops that keep what the
// backward pass needs (the input for max pools, the input size for average pools).
#include "keel/nn/pooling.h"

#include <fmt/format.h>

#include "keel/error.h"

namespace keel::nn {

namespace {
// The layer's description is only built on failure: a training step allocates nothing.
void expect_image(const Tensor& x, const Module& layer) {
  if (x.ndim() != 4) {
    throw Error(ErrorKind::runtime, fmt::format("{}: expected input (N, C, H, W), got {}",
                                                layer.describe(), x.shape().str()));
  }
}

Pool2dArgs pool_args(const char* name, int kernel, int stride, int padding) {
  Pool2dArgs a{kernel, stride < 0 ? kernel : stride, padding};
  // PyTorch's rule: padding at most half the window, so every window sees an input element.
  if (a.kernel <= 0 || a.stride <= 0 || a.padding < 0 || 2 * a.padding > a.kernel) {
    throw Error(ErrorKind::usage,
                fmt::format("{}(kernel {}, stride {}, padding {}): needs kernel, stride > 0 and "
                            "0 <= padding <= kernel / 2",
                            name, kernel, a.stride, padding));
  }
  return a;
}

void check_out_size(int64_t out_h, int64_t out_w, const char* name) {
  if (out_h <= 0 || out_w <= 0) {
    throw Error(ErrorKind::usage,
                fmt::format("{}({}, {}): output size must be positive", name, out_h, out_w));
  }
}
}  // namespace

MaxPool2d::MaxPool2d(int kernel, int stride, int padding)
    : args_(pool_args("MaxPool2d", kernel, stride, padding)) {}

const Tensor& MaxPool2d::forward(const Tensor& x) {
  expect_image(x, *this);
  input_ = x;
  max_pool2d_forward(x, y_, args_);
  return y_;
}

const Tensor& MaxPool2d::backward(const Tensor& dy) {
  if (!input_grad()) return none_;
  max_pool2d_backward(input_, dy, dx_, args_);
  return dx_;
}

std::string MaxPool2d::describe() const {
  return fmt::format("MaxPool2d(kernel {}, stride {}, pad {})", args_.kernel, args_.stride,
                     args_.padding);
}

AvgPool2d::AvgPool2d(int kernel, int stride, int padding)
    : args_(pool_args("AvgPool2d", kernel, stride, padding)) {}

const Tensor& AvgPool2d::forward(const Tensor& x) {
  expect_image(x, *this);
  in_h_ = x.dim(2);
  in_w_ = x.dim(3);
  avg_pool2d_forward(x, y_, args_);
  return y_;
}

const Tensor& AvgPool2d::backward(const Tensor& dy) {
  if (!input_grad()) return none_;
  avg_pool2d_backward(dy, dx_, args_, in_h_, in_w_);
  return dx_;
}

std::string AvgPool2d::describe() const {
  return fmt::format("AvgPool2d(kernel {}, stride {}, pad {})", args_.kernel, args_.stride,
                     args_.padding);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(int64_t out_h, int64_t out_w)
    : out_h_(out_h), out_w_(out_w < 0 ? out_h : out_w) {
  check_out_size(out_h_, out_w_, "AdaptiveAvgPool2d");
}

const Tensor& AdaptiveAvgPool2d::forward(const Tensor& x) {
  expect_image(x, *this);
  in_h_ = x.dim(2);
  in_w_ = x.dim(3);
  adaptive_avg_pool2d_forward(x, y_, out_h_, out_w_);
  return y_;
}

const Tensor& AdaptiveAvgPool2d::backward(const Tensor& dy) {
  if (!input_grad()) return none_;
  adaptive_avg_pool2d_backward(dy, dx_, in_h_, in_w_);
  return dx_;
}

std::string AdaptiveAvgPool2d::describe() const {
  return fmt::format("AdaptiveAvgPool2d({}, {})", out_h_, out_w_);
}

AdaptiveMaxPool2d::AdaptiveMaxPool2d(int64_t out_h, int64_t out_w)
    : out_h_(out_h), out_w_(out_w < 0 ? out_h : out_w) {
  check_out_size(out_h_, out_w_, "AdaptiveMaxPool2d");
}

const Tensor& AdaptiveMaxPool2d::forward(const Tensor& x) {
  expect_image(x, *this);
  input_ = x;
  adaptive_max_pool2d_forward(x, y_, out_h_, out_w_);
  return y_;
}

const Tensor& AdaptiveMaxPool2d::backward(const Tensor& dy) {
  if (!input_grad()) return none_;
  adaptive_max_pool2d_backward(input_, dy, dx_);
  return dx_;
}

std::string AdaptiveMaxPool2d::describe() const {
  return fmt::format("AdaptiveMaxPool2d({}, {})", out_h_, out_w_);
}

AdaptiveConcatPool2d::AdaptiveConcatPool2d(int64_t out) : out_(out) {
  check_out_size(out, out, "AdaptiveConcatPool2d");
}

const Tensor& AdaptiveConcatPool2d::forward(const Tensor& x) {
  expect_image(x, *this);
  input_ = x;
  channels_ = x.dim(1);
  in_h_ = x.dim(2);
  in_w_ = x.dim(3);
  adaptive_max_pool2d_forward(x, max_y_, out_, out_);
  adaptive_avg_pool2d_forward(x, avg_y_, out_, out_);
  concat_channels(max_y_, avg_y_, y_);
  return y_;
}

const Tensor& AdaptiveConcatPool2d::backward(const Tensor& dy) {
  if (!input_grad()) return none_;
  split_channels(dy, channels_, dmax_, davg_);
  adaptive_max_pool2d_backward(input_, dmax_, dx_);
  adaptive_avg_pool2d_backward(davg_, dx_avg_, in_h_, in_w_);
  add(dx_, dx_avg_, dx_);  // both branches read the same input: their gradients add
  return dx_;
}

std::string AdaptiveConcatPool2d::describe() const {
  return fmt::format("AdaptiveConcatPool2d({}, max then avg)", out_);
}

}  // namespace keel::nn
