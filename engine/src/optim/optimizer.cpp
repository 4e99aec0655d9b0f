// The Optimizer base (see keel/optim/optimizer.h): parameter groups, lazily allocated per-parameter
// state on the parameter's device, and the step loop that the fused update ops run in.
#include "keel/optim/optimizer.h"

#include <algorithm>

#include <fmt/format.h>

#include "keel/error.h"

namespace keel::optim {

Optimizer::Optimizer(std::vector<nn::Parameter*> params, const ParamGroup& defaults,
                     const std::vector<double>& lrs, bool decay_all,
                     std::vector<std::string> state_names)
    : params_(std::move(params)), decay_all_(decay_all), state_names_(std::move(state_names)) {
  int max_group = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    nn::Parameter* p = params_[i];
    if (!p || !p->value.defined()) {
      throw Error(ErrorKind::usage, fmt::format("optimizer: parameter {} is undefined", i));
    }
    if (p->group < 0) {
      throw Error(ErrorKind::usage,
                  fmt::format("optimizer: parameter {} has negative group {}", i, p->group));
    }
    max_group = std::max(max_group, p->group);
  }
  const size_t count = static_cast<size_t>(max_group) + 1;
  if (!lrs.empty() && lrs.size() < count) {
    throw Error(ErrorKind::usage,
                fmt::format("optimizer: {} learning rates for {} parameter groups; give one per "
                            "group (or none to use lr for all)",
                            lrs.size(), count));
  }
  groups_.assign(std::max(count, lrs.size()), defaults);
  for (size_t g = 0; g < lrs.size(); ++g) groups_[g].lr = lrs[g];
  state_.resize(params_.size());
}

void Optimizer::validate_groups() const {
  for (const ParamGroup& g : groups_) validate(g);
}

void Optimizer::ensure_state(size_t index) {
  std::vector<Tensor>& slots = state_[index];
  if (slots.size() == state_names_.size()) return;
  const Tensor& value = params_[index]->value;
  slots.clear();
  for (size_t s = 0; s < state_names_.size(); ++s) {
    slots.push_back(Tensor::zeros(value.shape(), value.device()));
  }
}

void Optimizer::step() {
  const int64_t step_number = steps_ + 1;
  for (size_t i = 0; i < params_.size(); ++i) {
    nn::Parameter& p = *params_[i];
    if (!p.grad.defined() || p.grad.shape() != p.value.shape()) {
      throw Error(ErrorKind::runtime,
                  fmt::format("optimizer step: parameter {} of shape {} has no matching gradient "
                              "(run the backward pass first)",
                              i, p.value.shape().str()));
    }
    ensure_state(i);
    // A model moved to another device after the optimizer was made takes its state along.
    for (Tensor& s : state_[i]) {
      if (s.device() != p.value.device()) s = s.to(p.value.device());
    }
    const ParamGroup& g = groups_[static_cast<size_t>(p.group)];
    const double wd = (decay_all_ || p.decay) ? g.weight_decay : 0.0;
    update(p, g, wd, step_number, state_[i]);
  }
  steps_ = step_number;
}

std::vector<LiveGroup> Optimizer::live_groups() const {
  std::vector<LiveGroup> out;
  for (const ParamGroup& g : groups_) {
    // The same float conversions as the updates' arguments, so a replay matches an eager step.
    out.push_back({static_cast<float>(g.lr), static_cast<float>(g.momentum),
                   static_cast<float>(g.beta2), steps_ + 1});
  }
  return out;
}

void Optimizer::reset_state() {
  for (std::vector<Tensor>& slots : state_) slots.clear();
  steps_ = 0;
}

void Optimizer::visit_state(const StateVisitor& visit) {
  for (size_t i = 0; i < params_.size(); ++i) {
    ensure_state(i);
    for (size_t s = 0; s < state_names_.size(); ++s) {
      visit(fmt::format("{}.{}", state_names_[s], i), state_[i][s]);
    }
  }
}

void Optimizer::set_steps(int64_t steps) {
  if (steps < 0)
    throw Error(ErrorKind::checkpoint, fmt::format("optimizer: step count {} < 0", steps));
  steps_ = steps;
}

ParamGroup& Optimizer::group(int g) {
  if (g < 0 || g >= num_groups()) {
    throw Error(ErrorKind::usage,
                fmt::format("optimizer: no parameter group {} (there are {})", g, num_groups()));
  }
  return groups_[static_cast<size_t>(g)];
}

const ParamGroup& Optimizer::group(int g) const {
  return const_cast<Optimizer*>(this)->group(g);
}

void Optimizer::set_lr(int g, double lr) {
  if (!(lr >= 0.0))
    throw Error(ErrorKind::usage, fmt::format("optimizer: learning rate {} < 0", lr));
  group(g).lr = lr;
}

void Optimizer::set_lr(double lr) {
  for (int g = 0; g < num_groups(); ++g) set_lr(g, lr);
}

void Optimizer::set_momentum(int g, double momentum) {
  ParamGroup changed = group(g);
  changed.momentum = momentum;
  validate(changed);
  group(g) = changed;
}

void Optimizer::set_momentum(double momentum) {
  for (int g = 0; g < num_groups(); ++g) set_momentum(g, momentum);
}

}  // namespace keel::optim
