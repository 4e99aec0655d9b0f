// Sequential: a container that runs its children in order (backward in reverse) and names them
// "0", "1", ... so parameters read "3.conv1.weight"; describe() prints the layer table.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "keel/nn/module.h"

namespace keel::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<ModulePtr> layers);

  // Appends a layer; returns *this so that calls chain.
  Sequential& add(ModulePtr layer);
  // Constructs a layer in place and returns it, for builders that configure it further.
  template <class T, class... Args>
  T& emplace(Args&&... args) {
    auto layer = std::make_unique<T>(std::forward<Args>(args)...);
    T& ref = *layer;
    add(std::move(layer));
    return ref;
  }

  size_t size() const { return layers_.size(); }
  Module& operator[](size_t i) { return *layers_.at(i); }
  const Module& operator[](size_t i) const { return *layers_.at(i); }

  // x -> the last layer's output (x itself when empty). A BatchNorm directly followed by a ReLU
  // runs as one fused layer (BatchNorm::forward_relu / backward_relu): the same results with one
  // pass less over the activations each way. The ReLU's own forward and backward are then
  // skipped.
  const Tensor& forward(const Tensor& x) override;
  // dy -> the first layer's input gradient (undefined when input_grad() is off)
  const Tensor& backward(const Tensor& dy) override;
  // A header line, then one line per layer: its name, indented by depth, and its description.
  std::string describe() const override;
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;
  void visit_buffers(const std::string& prefix, const BufferVisitor& visit) override;
  void visit_children(const std::function<void(Module&)>& visit) override;

 protected:
  void drop_views() override;

 private:
  std::vector<ModulePtr> layers_;
  std::vector<char> relu_follows_;  // per layer: a BatchNorm whose next layer is a ReLU
  Tensor input_, dx_;  // pass-through views used when the container is empty
  Shape last_input_shape_;  // of the last forward: a change releases the layers' views first
};

}  // namespace keel::nn
