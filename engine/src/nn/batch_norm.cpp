// BatchNorm2d / BatchNorm1d (see keel/nn/batch_norm.h). One class serves both: the ops accept
// (N, C, H, W) and (N, C), so the subclasses only fix which shape the layer expects.
#include "keel/nn/batch_norm.h"

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/ops.h"

namespace keel::nn {

BatchNorm::BatchNorm(int64_t channels, float eps, float momentum, bool spatial)
    : channels_(channels), eps_(eps), momentum_(momentum), spatial_(spatial) {
  if (channels <= 0 || !(eps > 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f)) {
    throw Error(ErrorKind::usage,
                fmt::format("BatchNorm{}d({}, eps {}, momentum {}): needs channels > 0, eps > 0 "
                            "and momentum in [0, 1]",
                            spatial ? 2 : 1, channels, eps, momentum));
  }
  weight_.value = Tensor::full(Shape{channels}, 1.0f);
  weight_.grad = Tensor::zeros(Shape{channels});
  weight_.decay = false;
  bias_.value = Tensor::zeros(Shape{channels});
  bias_.grad = Tensor::zeros(Shape{channels});
  bias_.decay = false;
  running_mean_ = Tensor::zeros(Shape{channels});
  running_var_ = Tensor::full(Shape{channels}, 1.0f);
}

void BatchNorm::check_input(const Tensor& x) const {
  const int ndim = spatial_ ? 4 : 2;
  if (x.ndim() != ndim || x.dim(1) != channels_) {
    throw Error(ErrorKind::runtime, fmt::format("{}: expected input ({}), got {}", describe(),
                                                spatial_ ? fmt::format("N, {}, H, W", channels_)
                                                         : fmt::format("N, {}", channels_),
                                                x.shape().str()));
  }
  // Batch statistics of a single value per channel are degenerate (variance 0, and PyTorch
  // refuses them); say so rather than return zeros.
  if (training() && x.numel() / channels_ < 2) {
    throw Error(ErrorKind::runtime,
                fmt::format("{}: training needs more than one value per channel, got input {} "
                            "(use a batch of at least 2)",
                            describe(), x.shape().str()));
  }
}

const Tensor& BatchNorm::forward(const Tensor& x) {
  check_input(x);
  relu_ = false;
  if (training() && sync_) {
    forward_train_synced(x);
  } else if (training()) {
    input_ = x;
    batch_norm_forward_train(x, weight_.value, bias_.value, running_mean_, running_var_, momentum_,
                             eps_, y_, save_mean_, save_invstd_);
    have_batch_stats_ = true;
  } else {
    batch_norm_forward_eval(x, weight_.value, bias_.value, running_mean_, running_var_, eps_, y_);
    have_batch_stats_ = false;
  }
  return y_;
}

const Tensor& BatchNorm::forward_relu(const Tensor& x) {
  check_input(x);
  relu_ = true;
  if (training() && sync_) {
    forward_train_synced(x);
    relu_forward(y_, y_);
  } else if (training()) {
    input_ = x;
    batch_norm_relu_forward_train(x, weight_.value, bias_.value, running_mean_, running_var_,
                                  momentum_, eps_, y_, save_mean_, save_invstd_);
    have_batch_stats_ = true;
  } else {
    batch_norm_forward_eval(x, weight_.value, bias_.value, running_mean_, running_var_, eps_, y_);
    relu_forward(y_, y_);
    have_batch_stats_ = false;
  }
  return y_;
}

void BatchNorm::drop_views() {
  input_ = Tensor();
  have_batch_stats_ = false;  // the saved input is gone: backward needs a new forward
}

const Tensor& BatchNorm::backward(const Tensor& dy) {
  if (!have_batch_stats_ || relu_) {
    throw Error(
        ErrorKind::runtime,
        fmt::format("{}: backward needs a forward in training mode (call set_training(true)){}",
                    describe(), relu_ ? ", and forward_relu pairs with backward_relu" : ""));
  }
  if (sync_) {
    backward_synced(dy);
  } else {
    batch_norm_backward(input_, weight_.value, save_mean_, save_invstd_, dy, dx_, weight_.grad,
                        bias_.grad);
  }
  return input_grad() ? dx_ : none_;
}

const Tensor& BatchNorm::backward_relu(const Tensor& dy) {
  if (!have_batch_stats_ || !relu_) {
    throw Error(ErrorKind::runtime,
                fmt::format("{}: backward_relu needs a forward_relu in training mode", describe()));
  }
  if (sync_) {
    relu_backward(y_, dy, relu_dy_);
    backward_synced(relu_dy_);
  } else {
    batch_norm_relu_backward(input_, y_, weight_.value, save_mean_, save_invstd_, dy, dx_,
                             weight_.grad, bias_.grad);
  }
  return input_grad() ? dx_ : none_;
}

std::string BatchNorm::describe() const {
  return fmt::format("BatchNorm{}d({}, eps {:g}, momentum {:g})", spatial_ ? 2 : 1, channels_, eps_,
                     momentum_);
}

void BatchNorm::visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {
  visit(prefix + "weight", weight_);
  visit(prefix + "bias", bias_);
}

void BatchNorm::visit_buffers(const std::string& prefix, const BufferVisitor& visit) {
  visit(prefix + "running_mean", running_mean_);
  visit(prefix + "running_var", running_var_);
}

}  // namespace keel::nn
