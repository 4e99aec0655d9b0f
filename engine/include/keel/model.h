// keel::Model, the load-and-predict path for programs that link libkeel: trained networks in
// evaluation mode (one, or an ensemble whose probabilities are averaged) and their weights from a
// safetensors file or a keel checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "keel/io/safetensors.h"
#include "keel/nn/module.h"
#include "keel/tensor.h"
#include "keel/train/checkpoint.h"

namespace keel {

class Model {
 public:
  // Runs before the networks on every batch (e.g. resize and normalise raw images); the result
  // is the networks' input.
  using InputTransform = std::function<Tensor(const Tensor&)>;

  // Networks with the same input and the same classes; a network is put in evaluation mode.
  // Throws keel::Error(usage) when `members` is empty.
  explicit Model(std::vector<std::unique_ptr<nn::Module>> members);

  // The architecture the weights were saved from, built by the caller (a safetensors file holds
  // weights only), loaded as keel::load_safetensors does: strict by default, every name and shape
  // checked before anything changes. Throws keel::Error(data) naming the file, key and shapes.
  static Model from_safetensors(std::unique_ptr<nn::Module> network, const std::string& path,
                                const WeightLoadOptions& options = {});
  // Every finished network of a keel checkpoint (saved by save_model_weights under "model0.",
  // "model1.", ..., as an ensemble's training job does), each built by `make_network` and loaded
  // with its shapes checked. Throws keel::Error(checkpoint) naming the file when it holds none.
  static Model from_checkpoint(const std::function<std::unique_ptr<nn::Module>()>& make_network,
                               const std::string& path);
  static Model from_checkpoint(const std::function<std::unique_ptr<nn::Module>()>& make_network,
                               const train::Checkpoint& checkpoint);

  // images: (N, C, H, W) -> (N, K) on the CPU: per row, the mean over the networks of
  // softmax(logits), in batches of `batch_size`. Images and networks on the same device.
  Tensor probabilities(const Tensor& images, int64_t batch_size = 256);
  // The most probable class per row (the first one on a tie).
  std::vector<int> classes(const Tensor& images, int64_t batch_size = 256);

  void set_input_transform(InputTransform transform) { transform_ = std::move(transform); }
  size_t size() const { return members_.size(); }
  nn::Module& member(size_t i) { return *members_.at(i); }
  // The networks, for export_onnx of the whole model.
  std::vector<nn::Module*> members() const;

 private:
  std::vector<std::unique_ptr<nn::Module>> members_;
  InputTransform transform_;
};

}  // namespace keel
