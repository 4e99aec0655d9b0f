// Module: a layer with an explicit forward and backward pass (no autograd tape). Each module owns
// its output and input-gradient buffers, so a training step allocates nothing after the first.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "keel/precision.h"
#include "keel/random.h"
#include "keel/tensor.h"

namespace keel::nn {

// A trainable tensor with its gradient. `group` selects the optimizer's parameter group (for
// per-group learning rates, e.g. body and head); `decay` says whether weight decay applies. Layers
// set it false on biases and batch-norm parameters; optimizers honour it only when told to
// (decay_all = false), since PyTorch and fastai decay every parameter by default.
struct Parameter {
  Tensor value;
  Tensor grad;
  int group = 0;
  bool decay = true;
};

// Visitors receive hierarchical names ("3.conv1.weight") that checkpoints store.
using ParameterVisitor = std::function<void(const std::string& name, Parameter& p)>;
using BufferVisitor = std::function<void(const std::string& name, Tensor& buffer)>;

class Module {
 public:
  virtual ~Module() = default;

  // x -> the module's output buffer, valid until the next forward call.
  virtual const Tensor& forward(const Tensor& x) = 0;
  // dy (gradient of the loss w.r.t. the last forward's output) -> gradient w.r.t. its input.
  // Parameter gradients are overwritten. Returns an undefined tensor when input_grad() is off.
  virtual const Tensor& backward(const Tensor& dy) = 0;

  // One line for the layer table printed at start: "Conv2d(1 -> 32, kernel 3, stride 1, pad 1)".
  virtual std::string describe() const = 0;

  // Parameters and buffers (batch-norm running statistics), depth first, in a stable order.
  virtual void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {}
  virtual void visit_buffers(const std::string& prefix, const BufferVisitor& visit) {}
  virtual void visit_children(const std::function<void(Module&)>& visit) {}

  std::vector<Parameter*> parameters();
  int64_t parameter_count();

  // Training mode (batch statistics, dropout on) or evaluation mode; applies to children.
  void set_training(bool on);
  bool training() const { return training_; }
  // The format the convolutions and linear layers below read their operands in (inputs, weights
  // and output gradients rounded to it, float32 accumulation); parameters stay float32. fp32
  // unless set; applies to children.
  void set_precision(Precision precision);
  Precision precision() const { return precision_; }
  // Moves parameters, gradients and buffers to a device; applies to children.
  void to(Device device);
  // Optimizer parameter group of every parameter below this module.
  void set_group(int group);
  // The random source of dropout layers below this module.
  void set_generator(Generator* gen);
  // When off, backward skips the input gradient (the first layer of a network needs none).
  void set_input_grad(bool on) { input_grad_ = on; }
  bool input_grad() const { return input_grad_; }
  // Drops what this module and those below it kept from their last pass that shows another
  // module's buffer: saved inputs and pass-through views. Tensor::ensure resizes a buffer within
  // its allocation only while the buffer has no other holder, so Sequential calls this when the
  // batch shape changes (an evaluation between training steps, a last partial batch); otherwise
  // every shared buffer would be replaced at each change, and a CUDA graph captured over the old
  // ones would go stale. The next backward needs a forward first, as always.
  void release_views();

 protected:
  virtual void on_device_change(Device device) {}
  // This module's own saved inputs and views; release_views() reaches the children.
  virtual void drop_views() {}
  Generator* generator() const { return generator_; }

 private:
  bool training_ = true;
  bool input_grad_ = true;
  Precision precision_ = Precision::fp32;
  Generator* generator_ = nullptr;
};

using ModulePtr = std::unique_ptr<Module>;

}  // namespace keel::nn
