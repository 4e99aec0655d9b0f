// SGD (see keel/optim/sgd.h): one velocity tensor per parameter and the fused sgd_update op.
#include "keel/optim/sgd.h"

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/ops.h"

namespace keel::optim {

namespace {
ParamGroup sgd_defaults(const SgdOptions& o) {
  ParamGroup g;
  g.lr = o.lr;
  g.momentum = o.momentum;
  g.dampening = o.dampening;
  g.weight_decay = o.weight_decay;
  g.nesterov = o.nesterov;
  return g;
}
}  // namespace

SGD::SGD(std::vector<nn::Parameter*> params, const SgdOptions& options)
    : Optimizer(std::move(params), sgd_defaults(options), options.lrs, options.decay_all,
                {"velocity"}) {
  validate_groups();
}

void SGD::validate(const ParamGroup& g) const {
  if (!(g.lr >= 0.0) || !(g.momentum >= 0.0) || !(g.weight_decay >= 0.0) ||
      !(g.dampening >= 0.0 && g.dampening <= 1.0)) {
    throw Error(ErrorKind::usage,
                fmt::format("SGD: needs lr, momentum, weight_decay >= 0 and dampening in [0, 1]; "
                            "got lr {}, momentum {}, weight_decay {}, dampening {}",
                            g.lr, g.momentum, g.weight_decay, g.dampening));
  }
  if (g.nesterov && (g.momentum <= 0.0 || g.dampening != 0.0)) {
    throw Error(ErrorKind::usage, "SGD: Nesterov momentum needs momentum > 0 and dampening 0");
  }
}

void SGD::update(nn::Parameter& p, const ParamGroup& g, double weight_decay, int64_t step,
                 std::vector<Tensor>& state) {
  SgdArgs a;
  a.lr = static_cast<float>(g.lr);
  a.momentum = static_cast<float>(g.momentum);
  a.dampening = static_cast<float>(g.dampening);
  a.weight_decay = static_cast<float>(weight_decay);
  a.group = p.group;
  a.nesterov = g.nesterov;
  sgd_update(p.value, p.grad, state[0], a, step == 1);
}

std::string SGD::describe() const {
  const ParamGroup& g = group(0);
  return fmt::format("SGD(lr {:g}, momentum {:g}, dampening {:g}, weight decay {:g}{}, {} groups)",
                     g.lr, g.momentum, g.dampening, g.weight_decay, g.nesterov ? ", Nesterov" : "",
                     num_groups());
}

}  // namespace keel::optim
