// SGD with momentum, dampening, Nesterov and L2 weight decay, as torch.optim.SGD defines them:
// g = grad + wd p; v = g on the first step, else momentum v + (1 - dampening) g;
// p -= lr (nesterov ? g + momentum v : v).
#pragma once

#include <string>
#include <vector>

#include "keel/optim/optimizer.h"

namespace keel::optim {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;    // needs momentum > 0 and dampening 0
  std::vector<double> lrs;  // per-group learning rates; empty: lr for every group
  bool decay_all = true;    // false: no weight decay where Parameter::decay is false
};

class SGD : public Optimizer {
 public:
  explicit SGD(std::vector<nn::Parameter*> params, const SgdOptions& options = {});
  std::string describe() const override;

 protected:
  void update(nn::Parameter& p, const ParamGroup& g, double weight_decay, int64_t step,
              std::vector<Tensor>& state) override;
  void validate(const ParamGroup& g) const override;
};

}  // namespace keel::optim
