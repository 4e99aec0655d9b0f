// Schedules (see keel/optim/schedule.h): closed-form functions of the step, so a resumed run
// only needs the step count to continue exactly where it stopped.
#include "keel/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "keel/error.h"

namespace keel::optim {

namespace {
void check_lrs(const std::vector<double>& lrs, const char* name) {
  if (lrs.empty())
    throw Error(ErrorKind::usage, fmt::format("{}: needs at least one learning rate", name));
  for (double lr : lrs) {
    if (!(lr >= 0.0))
      throw Error(ErrorKind::usage, fmt::format("{}: learning rate {} < 0", name, lr));
  }
}

double group_value(const std::vector<double>& lrs, int group) {
  return lrs.size() == 1 ? lrs[0] : lrs.at(static_cast<size_t>(group));
}

std::string list(const std::vector<double>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += fmt::format("{}{:g}", i ? ", " : "", v[i]);
  return out;
}
}  // namespace

double anneal_cos(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
}

void Schedule::apply(Optimizer& opt, int64_t step) const {
  if (num_groups() != 1 && num_groups() != opt.num_groups()) {
    throw Error(ErrorKind::config,
                fmt::format("{}: {} learning rates for an optimizer with {} parameter groups; give "
                            "one per group or a single one",
                            describe(), num_groups(), opt.num_groups()));
  }
  const std::optional<double> m = momentum(step);
  for (int g = 0; g < opt.num_groups(); ++g) {
    opt.set_lr(g, lr(g, step));
    if (m) opt.set_momentum(g, *m);
  }
}

ConstantSchedule::ConstantSchedule(std::vector<double> lrs) : lrs_(std::move(lrs)) {
  check_lrs(lrs_, "constant schedule");
}

double ConstantSchedule::lr(int group, int64_t) const {
  return group_value(lrs_, group);
}

std::string ConstantSchedule::describe() const {
  return fmt::format("constant(lr [{}])", list(lrs_));
}

CosineSchedule::CosineSchedule(std::vector<double> lrs, int64_t total_steps, double final_fraction)
    : lrs_(std::move(lrs)), total_steps_(total_steps), final_fraction_(final_fraction) {
  check_lrs(lrs_, "cosine schedule");
  if (total_steps <= 0 || !(final_fraction >= 0.0)) {
    throw Error(ErrorKind::usage,
                fmt::format("cosine schedule: needs total_steps > 0 and final_fraction >= 0, got "
                            "{} and {}",
                            total_steps, final_fraction));
  }
}

double CosineSchedule::lr(int group, int64_t step) const {
  const double base = group_value(lrs_, group);
  const double pct =
      std::clamp(static_cast<double>(step) / static_cast<double>(total_steps_), 0.0, 1.0);
  return anneal_cos(base, base * final_fraction_, pct);
}

std::string CosineSchedule::describe() const {
  return fmt::format("cosine(lr [{}] -> x{:g} over {} steps)", list(lrs_), final_fraction_,
                     total_steps_);
}

OneCycleSchedule::OneCycleSchedule(OneCycleOptions options) : options_(std::move(options)) {
  const OneCycleOptions& o = options_;
  check_lrs(o.max_lrs, "one-cycle schedule");
  if (o.total_steps <= 0 || !(o.pct_start > 0.0 && o.pct_start < 1.0) || !(o.div > 0.0) ||
      !(o.final_div > 0.0) || !(o.min_momentum >= 0.0 && o.max_momentum < 1.0)) {
    throw Error(ErrorKind::usage,
                fmt::format("one-cycle schedule: needs total_steps > 0, pct_start in (0, 1), "
                            "div and final_div > 0, momenta in [0, 1); got total_steps {}, "
                            "pct_start {}, div {}, final_div {}, momentum {} .. {}",
                            o.total_steps, o.pct_start, o.div, o.final_div, o.min_momentum,
                            o.max_momentum));
  }
}

std::pair<int, double> OneCycleSchedule::position(int64_t step) const {
  const double n = static_cast<double>(options_.total_steps);
  const double t = static_cast<double>(std::max<int64_t>(step, 0));
  if (options_.variant == OneCycleVariant::fastai) {
    // fastai v1: two Scheduler objects of a1 = int(n pct) and a2 = n - a1 iterations, each at
    // least one; step t of the warm-up reads pct t / a1, the annealing (t - a1) / a2.
    const double a1 = std::floor(n * options_.pct_start);
    const double warm = std::max(1.0, a1);
    const double anneal = std::max(1.0, n - a1);
    if (t <= warm) return {0, t / warm};
    return {1, std::min(1.0, (t - warm) / anneal)};
  }
  // PyTorch: phase ends at float(pct n) - 1 and n - 1; the first phase includes its end step.
  const double end1 = n * options_.pct_start - 1.0;
  const double end2 = n - 1.0;
  if (t <= end1) return {0, end1 > 0.0 ? t / end1 : 1.0};
  if (end2 <= end1) return {1, 1.0};
  return {1, std::min(1.0, (t - end1) / (end2 - end1))};
}

double OneCycleSchedule::lr(int group, int64_t step) const {
  const double max_lr = group_value(options_.max_lrs, group);
  const double start = max_lr / options_.div;
  const double end = start / options_.final_div;
  const auto [phase, pct] = position(step);
  return phase == 0 ? anneal_cos(start, max_lr, pct) : anneal_cos(max_lr, end, pct);
}

std::optional<double> OneCycleSchedule::momentum(int64_t step) const {
  if (!options_.cycle_momentum) return std::nullopt;
  const auto [phase, pct] = position(step);
  return phase == 0 ? anneal_cos(options_.max_momentum, options_.min_momentum, pct)
                    : anneal_cos(options_.min_momentum, options_.max_momentum, pct);
}

std::string OneCycleSchedule::describe() const {
  const OneCycleOptions& o = options_;
  return fmt::format(
      "one-cycle({}, max lr [{}], {} steps, pct_start {:g}, div {:g}, final_div "
      "{:g}{})",
      o.variant == OneCycleVariant::fastai ? "fastai" : "pytorch", list(o.max_lrs), o.total_steps,
      o.pct_start, o.div, o.final_div,
      o.cycle_momentum ? fmt::format(", momentum {:g} -> {:g} -> {:g}", o.max_momentum,
                                     o.min_momentum, o.max_momentum)
                       : "");
}

}  // namespace keel::optim
