// ReLU, Dropout and Flatten (see keel/nn/activation.h). The pass-through cases (eval-mode dropout,
// flatten) hand on views, so they neither copy nor allocate.
#include "keel/nn/activation.h"

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/ops.h"

namespace keel::nn {

const Tensor& ReLU::forward(const Tensor& x) {
  // In place: y_ becomes a view of x's storage, which relu_forward then overwrites.
  if (inplace_) y_ = x;
  relu_forward(x, y_);
  return y_;
}

const Tensor& ReLU::backward(const Tensor& dy) {
  if (!input_grad()) return none_;
  if (inplace_) dx_ = dy;
  relu_backward(y_, dy, dx_);
  return dx_;
}

std::string ReLU::describe() const {
  return inplace_ ? "ReLU(in place)" : "ReLU";
}

void ReLU::drop_views() {
  if (!inplace_) return;  // then y_ and dx_ are this layer's own buffers
  y_ = Tensor();
  dx_ = Tensor();
}

Dropout::Dropout(float p) : p_(p) {
  if (!(p >= 0.0f && p < 1.0f)) {
    throw Error(ErrorKind::usage, fmt::format("Dropout({}): p must be in [0, 1)", p));
  }
}

const Tensor& Dropout::forward(const Tensor& x) {
  masked_ = training() && p_ > 0.0f;
  if (!masked_) {
    x_view_ = x;
    return x_view_;
  }
  Generator* gen = generator();
  if (!gen) {
    throw Error(ErrorKind::usage, fmt::format("{} in training mode needs a random generator: call "
                                              "set_generator(&gen) on the model before training",
                                              describe()));
  }
  dropout_forward(x, p_, *gen, y_, mask_);
  return y_;
}

const Tensor& Dropout::backward(const Tensor& dy) {
  if (!input_grad()) return none_;
  if (!masked_) {
    dy_view_ = dy;
    return dy_view_;
  }
  dropout_backward(dy, mask_, dx_);
  return dx_;
}

std::string Dropout::describe() const {
  return fmt::format("Dropout(p {:g})", p_);
}

void Dropout::drop_views() {
  x_view_ = Tensor();
  dy_view_ = Tensor();
}

// Both passes keep last step's view when it already shows the same storage in the same shape:
// building a new one allocates (its Shape), and a training step allocates nothing.
const Tensor& Flatten::forward(const Tensor& x) {
  input_shape_ = x.shape();
  const bool same = y_.defined() && x.ndim() >= 1 && x.dim(0) > 0 && y_.data() == x.data() &&
                    y_.ndim() == 2 && y_.dim(0) == x.dim(0) && y_.dim(1) == x.numel() / x.dim(0);
  if (!same) y_ = x.flatten();
  return y_;
}

const Tensor& Flatten::backward(const Tensor& dy) {
  if (!input_grad()) return none_;
  if (!(dx_.defined() && dx_.data() == dy.data() && dx_.shape() == input_shape_)) {
    dx_ = dy.reshape(input_shape_);
  }
  return dx_;
}

void Flatten::drop_views() {
  y_ = Tensor();
  dx_ = Tensor();
}

}  // namespace keel::nn
