// Data-parallel training's collectives. Weights and running statistics are broadcast packed into
// one host buffer (once per fit or epoch); gradients are summed every step in their flat buffer.
#include "data_parallel.h"

#include <span>

#include "keel/dist.h"
#include "keel/nn/batch_norm.h"

namespace keel::train::detail {

namespace {

void set_sync_batch_norm(nn::Module& module) {
  if (auto* bn = dynamic_cast<nn::BatchNorm*>(&module)) bn->set_sync_across_ranks(true);
  module.visit_children([](nn::Module& child) { set_sync_batch_norm(child); });
}

// One broadcast for many tensors: packed on the host, sent, unpacked into their own storage.
void broadcast_packed(const std::vector<Tensor*>& tensors) {
  std::vector<float> packed;
  for (const Tensor* t : tensors) {
    const std::vector<float> values = t->to_vector();
    packed.insert(packed.end(), values.begin(), values.end());
  }
  dist::broadcast(std::span<float>(packed), 0);
  size_t offset = 0;
  for (Tensor* t : tensors) {
    const auto n = static_cast<size_t>(t->numel());
    t->copy_from(Tensor::from_data(t->shape(), std::span<const float>(packed.data() + offset, n)));
    offset += n;
  }
}

}  // namespace

DataParallel::DataParallel(nn::Module& model, Device device, bool sync_batch_norm)
    : model_(model), params_(model.parameters()) {
  int64_t total = 0;
  for (const nn::Parameter* p : params_) total += p->value.numel();
  flat_grads_ = Tensor::zeros(Shape{total}, device);
  rebind_gradients();
  if (sync_batch_norm) set_sync_batch_norm(model);
}

void DataParallel::rebind_gradients() {
  int64_t offset = 0;
  for (nn::Parameter* p : params_) {
    const int64_t n = p->value.numel();
    if (!p->grad.defined() || !p->grad.shares_storage_with(flat_grads_)) {
      Tensor view = flat_grads_.rows(offset, offset + n).reshape(p->value.shape());
      if (p->grad.defined()) view.copy_from(p->grad);
      p->grad = view;
    }
    offset += n;
  }
}

RowRange DataParallel::shard(int64_t rows) const {
  const int64_t rank = dist::rank(), world = dist::world_size();
  return {rows * rank / world, rows * (rank + 1) / world};
}

void DataParallel::broadcast_weights() {
  std::vector<Tensor*> tensors;
  for (nn::Parameter* p : params_) tensors.push_back(&p->value);
  model_.visit_buffers("", [&](const std::string&, Tensor& b) { tensors.push_back(&b); });
  broadcast_packed(tensors);
}

void DataParallel::broadcast_buffers() {
  std::vector<Tensor*> tensors;
  model_.visit_buffers("", [&](const std::string&, Tensor& b) { tensors.push_back(&b); });
  if (!tensors.empty()) broadcast_packed(tensors);
}

void DataParallel::sum_gradients() {
  // A layer that replaced its gradient tensor instead of writing into it is bound again (its
  // values copied over) rather than left out of the sum.
  rebind_gradients();
  dist::all_reduce(flat_grads_, dist::Reduce::sum);
}

}  // namespace keel::train::detail
