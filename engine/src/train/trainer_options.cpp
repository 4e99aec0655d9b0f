// The Trainer's options: their checks, and the optimizer and schedule they describe.
#include "keel/train/trainer_options.h"

#include <algorithm>
#include <initializer_list>

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/optim/adamw.h"
#include "keel/optim/sgd.h"

namespace keel::train {

namespace {

void expect_choice(const TrainerOptions& o, const char* field, const std::string& value,
                   std::initializer_list<const char*> choices) {
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return;
  throw Error(ErrorKind::config, fmt::format("{}: {} = \"{}\" is not one of {}: use one of them",
                                             o.source, field, value, fmt::join(choices, ", ")));
}

void expect_positive(const TrainerOptions& o, const char* field, int64_t value) {
  if (value > 0) return;
  throw Error(ErrorKind::config,
              fmt::format("{}: {} = {} must be at least 1", o.source, field, value));
}

}  // namespace

void validate(const TrainerOptions& o) {
  expect_choice(o, "optimizer.name", o.optimizer.name, {"adamw", "sgd"});
  expect_choice(o, "schedule.name", o.schedule.name, {"one_cycle", "cosine", "constant"});
  expect_choice(o, "schedule.style", o.schedule.style, {"fastai", "pytorch"});
  expect_choice(o, "train.best_metric", o.train.best_metric, {"val_loss", "val_accuracy", "last"});
  expect_choice(o, "train.on_nonfinite", o.train.on_nonfinite, {"stop", "skip_step"});
  expect_choice(o, "precision", o.precision, {"fp32", "fp16", "bf16"});
  expect_positive(o, "train.batch_size", o.train.batch_size);
  expect_positive(o, "train.eval_batch_size", o.train.eval_batch_size);
  expect_positive(o, "num_classes", o.num_classes);
}

std::vector<double> group_lrs(const OptimizerOptions& o, int groups) {
  if (groups <= 1) return {o.lr};
  // Group 0 is a resnet body, the last group its head (PIPELINE.md §4: 3e-4 body, 3e-3 head).
  std::vector<double> lrs(static_cast<size_t>(groups), o.body_lr);
  lrs.back() = o.lr;
  return lrs;
}

namespace {

int count_groups(const std::vector<nn::Parameter*>& params) {
  int groups = 1;
  for (const nn::Parameter* p : params) groups = std::max(groups, p->group + 1);
  return groups;
}

}  // namespace

std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerOptions& c,
                                                 std::vector<nn::Parameter*> params) {
  const std::vector<double> lrs = group_lrs(c, count_groups(params));
  if (c.name == "sgd") {
    optim::SgdOptions o;
    o.lr = c.lr;
    o.momentum = c.momentum;
    o.nesterov = c.nesterov;
    o.weight_decay = c.weight_decay;
    o.lrs = lrs;
    return std::make_unique<optim::SGD>(std::move(params), o);
  }
  optim::AdamWOptions o;
  o.lr = c.lr;
  o.beta1 = c.beta1;
  o.beta2 = c.beta2;
  o.eps = c.eps;
  o.weight_decay = c.weight_decay;
  o.lrs = lrs;
  return std::make_unique<optim::AdamW>(std::move(params), o);
}

std::unique_ptr<optim::Schedule> make_schedule(const ScheduleOptions& s, std::vector<double> lrs,
                                               int64_t total_steps) {
  if (s.name == "constant") return std::make_unique<optim::ConstantSchedule>(std::move(lrs));
  if (s.name == "cosine") {
    return std::make_unique<optim::CosineSchedule>(std::move(lrs), total_steps,
                                                   s.final_lr_fraction);
  }
  optim::OneCycleOptions o;
  o.max_lrs = std::move(lrs);
  o.total_steps = total_steps;
  o.pct_start = s.pct_start;
  o.div = s.div;
  o.final_div = s.final_div;
  o.max_momentum = s.moms_max;
  o.min_momentum = s.moms_min;
  o.cycle_momentum = s.moms_max != s.moms_min;
  o.variant =
      s.style == "pytorch" ? optim::OneCycleVariant::pytorch : optim::OneCycleVariant::fastai;
  return std::make_unique<optim::OneCycleSchedule>(std::move(o));
}

}  // namespace keel::train
