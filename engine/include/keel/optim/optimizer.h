// Optimizer: the base of SGD and AdamW. Parameters are split into groups by Parameter::group, each
// group with its own learning rate and hyper-parameters; moments are kept per parameter index.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "keel/captured_step.h"
#include "keel/nn/module.h"
#include "keel/tensor.h"

namespace keel::optim {

// Hyper-parameters of one parameter group. Schedules change lr and momentum between steps.
struct ParamGroup {
  double lr = 1e-3;
  double momentum = 0.0;  // SGD: momentum; AdamW: beta1 (what one-cycle cycles)
  double beta2 = 0.999;   // AdamW only
  double eps = 1e-8;      // AdamW only
  double weight_decay = 0.0;
  double dampening = 0.0;  // SGD only
  bool nesterov = false;   // SGD only
};

// Receives one state tensor (a moment of one parameter) and its name, e.g. "exp_avg.12".
using StateVisitor = std::function<void(const std::string& name, Tensor& state)>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter from the gradient its layer's backward pass left in grad.
  void step();
  // Drops every moment and the step count: the state of a freshly constructed optimizer.
  void reset_state();

  // Moments by parameter index (the order of the list given at construction), named
  // "<state>.<index>". Allocates zeroed state where none exists yet, so a checkpoint loader can
  // fill it before the first step; restore steps() alongside.
  void visit_state(const StateVisitor& visit);
  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps);

  int num_groups() const { return static_cast<int>(groups_.size()); }
  ParamGroup& group(int g);
  const ParamGroup& group(int g) const;
  double lr(int g) const { return group(g).lr; }
  void set_lr(int g, double lr);
  void set_lr(double lr);  // every group
  double momentum(int g) const { return group(g).momentum; }
  void set_momentum(int g, double momentum);
  void set_momentum(double momentum);  // every group

  // Every group's values for the next step() as its update ops would receive them: what a captured
  // training step (keel/captured_step.h) writes to the device before each replay.
  std::vector<LiveGroup> live_groups() const;

  const std::vector<nn::Parameter*>& parameters() const { return params_; }
  // Whether weight decay reaches parameters marked decay = false (biases and batch norm).
  bool decay_all() const { return decay_all_; }
  virtual std::string describe() const = 0;

 protected:
  // params: typically Module::parameters(). There are max(group) + 1 groups, each starting as
  // `defaults` with lrs[g] as its learning rate when `lrs` is not empty (it then needs one entry
  // per group). Each parameter gets state_names.size() state tensors.
  Optimizer(std::vector<nn::Parameter*> params, const ParamGroup& defaults,
            const std::vector<double>& lrs, bool decay_all, std::vector<std::string> state_names);

  // Updates one parameter; `weight_decay` is the group's, or 0 where the parameter is excluded.
  // `step` counts from 1 (this step included).
  virtual void update(nn::Parameter& p, const ParamGroup& g, double weight_decay, int64_t step,
                      std::vector<Tensor>& state) = 0;
  // Throws keel::Error when a group's hyper-parameters are out of range.
  virtual void validate(const ParamGroup& g) const = 0;
  void validate_groups() const;

 private:
  void ensure_state(size_t index);

  std::vector<nn::Parameter*> params_;
  std::vector<ParamGroup> groups_;
  bool decay_all_;
  std::vector<std::string> state_names_;
  std::vector<std::vector<Tensor>> state_;  // [parameter][state_names_ index]
  int64_t steps_ = 0;
};

}  // namespace keel::optim
