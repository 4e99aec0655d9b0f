// AdamW (see keel/optim/adamw.h): first and second moments per parameter and the fused
// adamw_update op, which also applies the decoupled weight decay.
#include "keel/optim/adamw.h"

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/ops.h"

namespace keel::optim {

namespace {
ParamGroup adamw_defaults(const AdamWOptions& o) {
  ParamGroup g;
  g.lr = o.lr;
  g.momentum = o.beta1;
  g.beta2 = o.beta2;
  g.eps = o.eps;
  g.weight_decay = o.weight_decay;
  return g;
}
}  // namespace

AdamW::AdamW(std::vector<nn::Parameter*> params, const AdamWOptions& options)
    // Names as PyTorch's state_dict calls them.
    : Optimizer(std::move(params), adamw_defaults(options), options.lrs, options.decay_all,
                {"exp_avg", "exp_avg_sq"}) {
  validate_groups();
}

void AdamW::validate(const ParamGroup& g) const {
  if (!(g.lr >= 0.0) || !(g.momentum >= 0.0 && g.momentum < 1.0) ||
      !(g.beta2 >= 0.0 && g.beta2 < 1.0) || !(g.eps > 0.0) || !(g.weight_decay >= 0.0)) {
    throw Error(ErrorKind::usage,
                fmt::format("AdamW: needs lr >= 0, betas in [0, 1), eps > 0, weight_decay >= 0; "
                            "got lr {}, betas ({}, {}), eps {}, weight_decay {}",
                            g.lr, g.momentum, g.beta2, g.eps, g.weight_decay));
  }
}

void AdamW::update(nn::Parameter& p, const ParamGroup& g, double weight_decay, int64_t step,
                   std::vector<Tensor>& state) {
  AdamWArgs a;
  a.lr = static_cast<float>(g.lr);
  a.beta1 = static_cast<float>(g.momentum);
  a.beta2 = static_cast<float>(g.beta2);
  a.eps = static_cast<float>(g.eps);
  a.weight_decay = static_cast<float>(weight_decay);
  a.group = p.group;
  a.step = step;
  adamw_update(p.value, p.grad, state[0], state[1], a);
}

std::string AdamW::describe() const {
  const ParamGroup& g = group(0);
  std::string lrs;
  for (int i = 0; i < num_groups(); ++i) lrs += fmt::format("{}{:g}", i ? ", " : "", lr(i));
  return fmt::format("AdamW(lr [{}], betas ({:g}, {:g}), eps {:g}, weight decay {:g}{})", lrs,
                     g.momentum, g.beta2, g.eps, g.weight_decay,
                     decay_all() ? "" : " except biases and batch norm");
}

}  // namespace keel::optim
