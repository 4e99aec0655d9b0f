// AdamW: Adam with decoupled weight decay (Loshchilov and Hutter), as torch.optim.AdamW:
// p -= lr wd p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g²;
// p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
#pragma once

#include <string>
#include <vector>

#include "keel/optim/optimizer.h"

namespace keel::optim {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
  std::vector<double> lrs;  // per-group learning rates; empty: lr for every group
  // true (PyTorch's and fastai's default, PIPELINE.md §4): decay every parameter, batch-norm
  // weights included; false: skip parameters with Parameter::decay == false (biases, batch norm).
  bool decay_all = true;
};

class AdamW : public Optimizer {
 public:
  explicit AdamW(std::vector<nn::Parameter*> params, const AdamWOptions& options = {});
  std::string describe() const override;

 protected:
  void update(nn::Parameter& p, const ParamGroup& g, double weight_decay, int64_t step,
              std::vector<Tensor>& state) override;
  void validate(const ParamGroup& g) const override;
};

}  // namespace keel::optim
