// Sequential (see keel/nn/sequential.h): chains forward and backward through its children and
// gives them the names "0", "1", ... that parameter and buffer names are built from.
#include "keel/nn/sequential.h"

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/nn/activation.h"
#include "keel/nn/batch_norm.h"

namespace keel::nn {

namespace {
// One line per layer, nested containers indented under their own line.
void describe_layers(const Sequential& seq, const std::string& prefix, int depth,
                     std::string& out) {
  for (size_t i = 0; i < seq.size(); ++i) {
    const std::string name = prefix + std::to_string(i);
    const Module& layer = seq[i];
    const auto* inner = dynamic_cast<const Sequential*>(&layer);
    const std::string text =
        inner ? fmt::format("Sequential({} layers)", inner->size()) : layer.describe();
    out += fmt::format("\n{:{}}{:<10} {}", "", 2 * depth, name, text);
    if (inner) describe_layers(*inner, name + ".", depth + 1, out);
  }
}
}  // namespace

Sequential::Sequential(std::vector<ModulePtr> layers) {
  for (ModulePtr& layer : layers) add(std::move(layer));
}

Sequential& Sequential::add(ModulePtr layer) {
  if (!layer) throw Error(ErrorKind::usage, "Sequential::add: null layer");
  // A new child follows the container's mode and random source, like the existing ones.
  layer->set_training(training());
  if (generator()) layer->set_generator(generator());
  const bool relu = dynamic_cast<const ReLU*>(layer.get()) != nullptr;
  if (relu && !layers_.empty() && dynamic_cast<const BatchNorm*>(layers_.back().get()))
    relu_follows_.back() = 1;
  layers_.push_back(std::move(layer));
  relu_follows_.push_back(0);
  return *this;
}

const Tensor& Sequential::forward(const Tensor& x) {
  // A new batch size: the views the layers kept from the last pass would make their buffers
  // shared, and each would then be replaced instead of resized (see Module::release_views).
  if (x.shape() != last_input_shape_) {
    release_views();
    last_input_shape_ = x.shape();
  }
  if (layers_.empty()) {
    input_ = x;
    return input_;
  }
  const Tensor* h = &x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (relu_follows_[i]) {
      h = &static_cast<BatchNorm&>(*layers_[i]).forward_relu(*h);
      ++i;  // the ReLU, applied above
    } else {
      h = &layers_[i]->forward(*h);
    }
  }
  return *h;
}

const Tensor& Sequential::backward(const Tensor& dy) {
  if (layers_.empty()) {
    dx_ = input_grad() ? dy : Tensor();
    return dx_;
  }
  // Only the first layer's input gradient leaves the container; inner ones are always needed.
  layers_.front()->set_input_grad(input_grad());
  const Tensor* g = &dy;
  for (size_t i = layers_.size(); i-- > 0;) {
    if (i > 0 && relu_follows_[i - 1]) {
      --i;  // layer i is the ReLU of a fused pair
      g = &static_cast<BatchNorm&>(*layers_[i]).backward_relu(*g);
    } else {
      g = &layers_[i]->backward(*g);
    }
  }
  return *g;
}

void Sequential::drop_views() {
  input_ = Tensor();
  dx_ = Tensor();
}

std::string Sequential::describe() const {
  std::string out = fmt::format("Sequential({} layers)", layers_.size());
  describe_layers(*this, "", 1, out);
  return out;
}

void Sequential::visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->visit_parameters(prefix + std::to_string(i) + ".", visit);
  }
}

void Sequential::visit_buffers(const std::string& prefix, const BufferVisitor& visit) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->visit_buffers(prefix + std::to_string(i) + ".", visit);
  }
}

void Sequential::visit_children(const std::function<void(Module&)>& visit) {
  for (ModulePtr& layer : layers_) visit(*layer);
}

}  // namespace keel::nn
