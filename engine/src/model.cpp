// keel::Model (see keel/model.h): batches through every network, softmax through the loss op,
// probabilities averaged on the host in float64 so the order of members does not matter.
#include "keel/model.h"

#include <algorithm>

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "keel/train/checkpoint.h"

namespace keel {

namespace {

bool has_network(const train::Checkpoint& c, int index) {
  const std::string prefix = fmt::format("model{}.", index);
  const auto it = c.tensors.lower_bound(prefix);
  return it != c.tensors.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

// (B, K) probabilities of one network for one batch.
std::vector<float> network_probabilities(nn::Module& network, const Tensor& input) {
  const Tensor& logits = network.forward(input);
  // Softmax through the loss op: the labels (all class 0) change only the loss.
  Tensor labels = Tensor::zeros(Shape{logits.dim(0)}, logits.device()), loss, probs;
  softmax_cross_entropy_forward(logits, labels, loss, probs);
  return probs.to_vector();
}

}  // namespace

Model::Model(std::vector<std::unique_ptr<nn::Module>> members) : members_(std::move(members)) {
  if (members_.empty()) throw Error(ErrorKind::usage, "keel::Model needs at least one network");
  for (auto& m : members_) m->set_training(false);
}

Model Model::from_safetensors(std::unique_ptr<nn::Module> network, const std::string& path,
                              const WeightLoadOptions& options) {
  load_safetensors(*network, path, options);
  std::vector<std::unique_ptr<nn::Module>> members;
  members.push_back(std::move(network));
  return Model(std::move(members));
}

Model Model::from_checkpoint(const std::function<std::unique_ptr<nn::Module>()>& make_network,
                             const std::string& path) {
  return from_checkpoint(make_network, train::load_checkpoint(path));
}

Model Model::from_checkpoint(const std::function<std::unique_ptr<nn::Module>()>& make_network,
                             const train::Checkpoint& c) {
  std::vector<std::unique_ptr<nn::Module>> members;
  for (int j = 0; has_network(c, j); ++j) {
    members.push_back(make_network());
    train::load_model_weights(c, fmt::format("model{}.", j), *members.back());
  }
  if (members.empty()) {
    throw Error(ErrorKind::checkpoint,
                fmt::format("checkpoint {} holds no finished model (no \"model0.\" tensors): "
                            "finish its training first (titanic_train --resume {})",
                            c.source, c.source));
  }
  return Model(std::move(members));
}

Tensor Model::probabilities(const Tensor& images, int64_t batch_size) {
  if (images.ndim() != 4 || batch_size < 1) {
    throw Error(ErrorKind::usage,
                fmt::format("Model::probabilities: images are (N, C, H, W) and batch_size >= 1, "
                            "got {} and {}",
                            images.shape().str(), batch_size));
  }
  const int64_t n = images.dim(0);
  std::vector<double> sum;
  int64_t classes = 0;
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const Tensor batch = images.rows(begin, std::min(begin + batch_size, n));
    const Tensor input = transform_ ? transform_(batch) : batch;
    for (auto& network : members_) {
      const std::vector<float> p = network_probabilities(*network, input);
      classes = static_cast<int64_t>(p.size()) / batch.dim(0);
      sum.resize(static_cast<size_t>(n * classes), 0.0);
      for (size_t i = 0; i < p.size(); ++i) sum[static_cast<size_t>(begin * classes) + i] += p[i];
    }
  }
  std::vector<float> mean(sum.size());
  for (size_t i = 0; i < sum.size(); ++i)
    mean[i] = static_cast<float>(sum[i] / static_cast<double>(members_.size()));
  return Tensor::from_data({n, classes}, mean);
}

std::vector<int> Model::classes(const Tensor& images, int64_t batch_size) {
  const Tensor p = probabilities(images, batch_size);
  const std::vector<float> values = p.to_vector();
  const int64_t k = p.dim(1);
  std::vector<int> out;
  for (int64_t i = 0; i < p.dim(0); ++i) {
    const float* row = values.data() + i * k;
    out.push_back(static_cast<int>(std::max_element(row, row + k) - row));
  }
  return out;
}

std::vector<nn::Module*> Model::members() const {
  std::vector<nn::Module*> out;
  for (const auto& m : members_) out.push_back(m.get());
  return out;
}

}  // namespace keel
