// Learning-rate (and momentum) schedules: constant, cosine annealing and one-cycle. A schedule is
// a pure function of the step; apply() writes its values into the optimizer's groups.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "keel/optim/optimizer.h"

namespace keel::optim {

class Schedule {
 public:
  virtual ~Schedule() = default;
  // Learning rate of `group` for 0-based step `step` (the step about to run).
  virtual double lr(int group, int64_t step) const = 0;
  // Momentum (SGD) / beta1 (AdamW) for that step; empty when the schedule leaves it alone.
  virtual std::optional<double> momentum(int64_t step) const { return std::nullopt; }
  // Number of groups the schedule has learning rates for (1: the same for every group).
  virtual int num_groups() const = 0;
  virtual std::string describe() const = 0;

  // Sets every group's lr (and momentum) for `step`; call it before each optimizer step.
  void apply(Optimizer& opt, int64_t step) const;
};

// The same learning rates at every step.
class ConstantSchedule : public Schedule {
 public:
  explicit ConstantSchedule(std::vector<double> lrs);
  double lr(int group, int64_t step) const override;
  int num_groups() const override { return static_cast<int>(lrs_.size()); }
  std::string describe() const override;

 private:
  std::vector<double> lrs_;
};

// Cosine annealing from lr to final_fraction · lr over total_steps (after that, the final value):
// lr_t = final + (lr - final) (1 + cos(pi t / total)) / 2.
class CosineSchedule : public Schedule {
 public:
  CosineSchedule(std::vector<double> lrs, int64_t total_steps, double final_fraction = 0.0);
  double lr(int group, int64_t step) const override;
  int num_groups() const override { return static_cast<int>(lrs_.size()); }
  std::string describe() const override;

 private:
  std::vector<double> lrs_;
  int64_t total_steps_;
  double final_fraction_;
};

// Where the one-cycle phase boundary lies.
enum class OneCycleVariant {
  // fastai v1's OneCycleScheduler: warm-up a1 = floor(pct n) steps, the peak at step a1, the
  // final value reached at step n (the last step, n - 1, is one step short of it).
  fastai,
  // torch.optim.lr_scheduler.OneCycleLR: peak at step pct n - 1 (a real number), the final value
  // at step n - 1. Used by the PyTorch peer script, for side-by-side runs.
  pytorch,
};

struct OneCycleOptions {
  std::vector<double> max_lrs;  // per group (e.g. {3e-4, 3e-3} body, head), or one for all
  int64_t total_steps = 0;      // steps of the whole fit (epochs × batches per epoch)
  double pct_start = 0.3;       // share of the steps spent warming up
  double div = 25.0;            // start lr = max / div
  double final_div = 1e4;       // final lr = max / (div · final_div) = max / 25e4
  bool cycle_momentum = true;
  double max_momentum = 0.95;  // at the start and the end
  double min_momentum = 0.85;  // at the peak lr
  OneCycleVariant variant = OneCycleVariant::fastai;
};

// One-cycle (Smith; fastai v1 fit_one_cycle): lr rises from max/div to max, then falls to
// max/(div · final_div), both halves cosine-annealed; momentum moves the opposite way, from
// max_momentum to min_momentum and back. Steps past the end hold the final values.
class OneCycleSchedule : public Schedule {
 public:
  explicit OneCycleSchedule(OneCycleOptions options);
  double lr(int group, int64_t step) const override;
  std::optional<double> momentum(int64_t step) const override;
  int num_groups() const override { return static_cast<int>(options_.max_lrs.size()); }
  std::string describe() const override;
  const OneCycleOptions& options() const { return options_; }

 private:
  // Phase (0 warm-up, 1 annealing) and position in it, 0..1, of a step.
  std::pair<int, double> position(int64_t step) const;
  OneCycleOptions options_;
};

// cos-annealing between two values: start at pct 0, end at pct 1.
double anneal_cos(double start, double end, double pct);

}  // namespace keel::optim
