// Parameter-free elementwise and shape layers: ReLU, Dropout (inverted, seeded) and Flatten.
// Flatten and eval-mode Dropout return views, so they cost no copy.
#pragma once

#include <string>

#include "keel/nn/module.h"

namespace keel::nn {

class ReLU : public Module {
 public:
  // In place overwrites the input tensor (the previous layer's output buffer) and the incoming
  // gradient. Safe after any layer whose backward does not read its own output, which holds for
  // every layer here, but not for the network's input: keep the first layer out of place.
  explicit ReLU(bool inplace = false) : inplace_(inplace) {}

  // x: any shape -> y like x
  const Tensor& forward(const Tensor& x) override;
  const Tensor& backward(const Tensor& dy) override;
  std::string describe() const override;

 protected:
  void drop_views() override;

 private:
  bool inplace_;
  Tensor y_, dx_, none_;  // views of x and dy when in place
};

class Dropout : public Module {
 public:
  // Zeroes each element with probability p in training mode and scales the rest by 1 / (1 - p);
  // the identity in evaluation mode. The mask comes from the generator set with set_generator().
  explicit Dropout(float p = 0.5f);

  // x: any shape -> y like x
  const Tensor& forward(const Tensor& x) override;
  const Tensor& backward(const Tensor& dy) override;
  std::string describe() const override;
  float p() const { return p_; }

 protected:
  void drop_views() override;

 private:
  float p_;
  bool masked_ = false;  // whether the last forward applied a mask
  Tensor y_, mask_, dx_, none_;
  // The identity's output and gradient: views of x and dy, kept apart from y_ and dx_ so that
  // an evaluation pass neither drops the training buffers nor makes the next mask overwrite x.
  Tensor x_view_, dy_view_;
};

class Flatten : public Module {
 public:
  // x: (N, ...) -> y: (N, rest), a view sharing x's storage
  const Tensor& forward(const Tensor& x) override;
  // dy: (N, rest) -> dx: a view of dy with the input's shape
  const Tensor& backward(const Tensor& dy) override;
  std::string describe() const override { return "Flatten"; }

 protected:
  void drop_views() override;

 private:
  Shape input_shape_;
  Tensor y_, dx_, none_;
};

}  // namespace keel::nn
