// Schedules: one-cycle (fastai v1 and PyTorch variants) at start, peak, mid-phase and end, and
// against values printed by torch.optim.lr_scheduler.OneCycleLR; cosine, constant, and apply().
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/nn/module.h"
#include "keel/optim.h"

namespace keel {
namespace {

using optim::OneCycleOptions;
using optim::OneCycleSchedule;
using optim::OneCycleVariant;

// Schedules compute in double; 1e-12 relative allows for cos() rounding only.
void expect_rel(double value, double ref, const char* what) {
  EXPECT_NEAR(value, ref, 1e-12 * std::fabs(ref)) << what;
}

TEST(OneCycle, FastaiVariantStartPeakEnd) {
  const double max_lr = 3e-3;
  OneCycleSchedule s({.max_lrs = {max_lr}, .total_steps = 100, .pct_start = 0.3});
  // fastai v1: a1 = int(100 · 0.3) = 30 warm-up steps, then 70 annealing steps.
  expect_rel(s.lr(0, 0), max_lr / 25, "start = max / div");
  expect_rel(s.lr(0, 15), (max_lr / 25 + max_lr) / 2, "warm-up midpoint");
  expect_rel(s.lr(0, 30), max_lr, "peak at step a1");
  EXPECT_LT(s.lr(0, 29), max_lr);
  EXPECT_LT(s.lr(0, 31), max_lr);
  expect_rel(s.lr(0, 65), (max_lr + max_lr / 25e4) / 2, "annealing midpoint");
  expect_rel(s.lr(0, 100), max_lr / 25e4, "end = max / (div · final_div)");
  // The last step run (99) is one annealing step short of the end value.
  const double pct = 69.0 / 70.0;
  expect_rel(s.lr(0, 99), max_lr / 25e4 + (max_lr - max_lr / 25e4) / 2 * (std::cos(M_PI * pct) + 1),
             "last step");
  expect_rel(s.lr(0, 500), max_lr / 25e4, "held after the end");

  expect_rel(*s.momentum(0), 0.95, "momentum start");
  expect_rel(*s.momentum(15), 0.90, "momentum warm-up midpoint");
  expect_rel(*s.momentum(30), 0.85, "momentum at the peak lr");
  expect_rel(*s.momentum(65), 0.90, "momentum annealing midpoint");
  expect_rel(*s.momentum(100), 0.95, "momentum end");
}

TEST(OneCycle, PytorchVariantStartPeakEnd) {
  const double max_lr = 1e-2;
  OneCycleSchedule s({.max_lrs = {max_lr},
                      .total_steps = 100,
                      .pct_start = 0.3,
                      .variant = OneCycleVariant::pytorch});
  // PyTorch: the warm-up ends at step 0.3 · 100 − 1 = 29, the annealing at step 99.
  expect_rel(s.lr(0, 0), max_lr / 25, "start");
  expect_rel(s.lr(0, 29), max_lr, "peak at pct · n − 1");
  expect_rel(s.lr(0, 64), (max_lr + max_lr / 25e4) / 2, "annealing midpoint (64 − 29 = 35 of 70)");
  expect_rel(s.lr(0, 99), max_lr / 25e4, "end at the last step");
  expect_rel(*s.momentum(0), 0.95, "momentum start");
  expect_rel(*s.momentum(29), 0.85, "momentum at peak");
  expect_rel(*s.momentum(99), 0.95, "momentum end");
}

// Printed by python3-torch 1.13: torch.optim.AdamW with two groups, betas (0.9, 0.99);
// OneCycleLR(max_lr=[3e-4, 3e-3], total_steps=37, pct_start=0.3); lr and betas[0] read before
// each optimizer step. 37 steps put the phase boundary at 10.1, between two steps.
TEST(OneCycle, PytorchVariantMatchesTorchOneCycleLR) {
  struct Row {
    int step;
    double lr0, lr1, beta1;
  };
  const std::vector<Row> torch_values = {
      {0, 1.2000000000000021e-05, 0.00011999999999999988, 0.94999999999999996},
      {1, 1.891011251528693e-05, 0.00018910112515286908, 0.9476006553766364},
      {5, 0.00015376053908346945, 0.0015376053908346945, 0.90077759059601747},
      {9, 0.00029165293393967841, 0.0029165293393967843, 0.85289828682650048},
      {10, 0.00029993034465004625, 0.0029993034465004629, 0.85002418588540052},
      {11, 0.00029910707823160203, 0.0029910707823160203, 0.85029764178003309},
      {12, 0.00029603408098938114, 0.0029603408098938118, 0.85132197829145273},
      {20, 0.00020423652928271973, 0.0020423652928271974, 0.88192128459089847},
      {35, 1.1033157229774141e-06, 1.1033157229774138e-05, 0.94963262662284731},
      {36, 1.1999999999999998e-09, 1.2e-08, 0.94999999999999996},
  };
  OneCycleSchedule s({.max_lrs = {3e-4, 3e-3},
                      .total_steps = 37,
                      .pct_start = 0.3,
                      .variant = OneCycleVariant::pytorch});
  nn::Parameter body, head;
  body.value = Tensor::zeros({1});
  head.value = Tensor::zeros({1});
  head.group = 1;
  optim::AdamW opt({&body, &head}, {.beta2 = 0.99});
  for (const Row& r : torch_values) {
    s.apply(opt, r.step);
    // Python computes in double too, with its own cos(): agreement to ~1e-13 relative.
    EXPECT_NEAR(opt.lr(0), r.lr0, 1e-12 * r.lr0) << "step " << r.step;
    EXPECT_NEAR(opt.lr(1), r.lr1, 1e-12 * r.lr1) << "step " << r.step;
    EXPECT_NEAR(opt.momentum(0), r.beta1, 1e-12) << "step " << r.step;
    EXPECT_NEAR(opt.momentum(1), r.beta1, 1e-12) << "step " << r.step;
  }
}

TEST(OneCycle, FastaiVariantWithTwoGroupsAsInPipeline) {
  // PIPELINE.md §4: max 3e-4 for the body, 3e-3 for the head.
  OneCycleSchedule s({.max_lrs = {3e-4, 3e-3}, .total_steps = 44});  // 4 epochs × 11 batches
  nn::Parameter body, head;
  body.value = Tensor::zeros({1});
  head.value = Tensor::zeros({1});
  head.group = 1;
  optim::AdamW opt({&body, &head});
  s.apply(opt, 0);
  expect_rel(opt.lr(0), 3e-4 / 25, "body start");
  expect_rel(opt.lr(1), 3e-3 / 25, "head start");
  expect_rel(opt.momentum(1), 0.95, "beta1 start");
  s.apply(opt, 13);  // int(44 · 0.3) = 13
  expect_rel(opt.lr(0), 3e-4, "body peak");
  expect_rel(opt.lr(1), 3e-3, "head peak");
  expect_rel(opt.momentum(0), 0.85, "beta1 at peak");
  s.apply(opt, 44);
  expect_rel(opt.lr(0), 3e-4 / 25e4, "body end");
  expect_rel(opt.lr(1), 3e-3 / 25e4, "head end");

  // Three groups in the optimizer, two learning rates in the schedule: a configuration error.
  nn::Parameter extra;
  extra.value = Tensor::zeros({1});
  extra.group = 2;
  optim::AdamW three({&body, &head, &extra});
  EXPECT_THROW(s.apply(three, 0), Error);
  // One learning rate applies to every group.
  OneCycleSchedule single({.max_lrs = {1e-3}, .total_steps = 10});
  single.apply(three, 3);
  EXPECT_DOUBLE_EQ(three.lr(0), 1e-3);
  EXPECT_DOUBLE_EQ(three.lr(2), 1e-3);
}

TEST(OneCycle, MomentumCycleCanBeOffAndOptionsAreChecked) {
  OneCycleSchedule s({.max_lrs = {1e-3}, .total_steps = 10, .cycle_momentum = false});
  EXPECT_FALSE(s.momentum(3).has_value());
  EXPECT_THROW(OneCycleSchedule({.max_lrs = {1e-3}, .total_steps = 0}), Error);
  EXPECT_THROW(OneCycleSchedule({.max_lrs = {}, .total_steps = 10}), Error);
  EXPECT_THROW(OneCycleSchedule({.max_lrs = {1e-3}, .total_steps = 10, .pct_start = 1.0}), Error);
}

TEST(Cosine, AnnealsFromLrToFinalFraction) {
  optim::CosineSchedule s({0.1, 0.01}, 50, 0.1);
  expect_rel(s.lr(0, 0), 0.1, "start");
  expect_rel(s.lr(1, 0), 0.01, "start, group 1");
  expect_rel(s.lr(0, 25), (0.1 + 0.01) / 2, "midpoint");
  expect_rel(s.lr(0, 50), 0.01, "end");
  expect_rel(s.lr(1, 50), 0.001, "end, group 1");
  expect_rel(s.lr(0, 80), 0.01, "held after the end");
  EXPECT_FALSE(s.momentum(10).has_value());
  EXPECT_THROW(optim::CosineSchedule({0.1}, 0), Error);
}

TEST(Constant, KeepsLearningRatesAndLeavesMomentumAlone) {
  optim::ConstantSchedule s({0.1, 0.2});
  nn::Parameter a, b;
  a.value = Tensor::zeros({1});
  b.value = Tensor::zeros({1});
  b.group = 1;
  optim::SGD opt({&a, &b}, {.lr = 1.0, .momentum = 0.5});
  s.apply(opt, 123);
  EXPECT_DOUBLE_EQ(opt.lr(0), 0.1);
  EXPECT_DOUBLE_EQ(opt.lr(1), 0.2);
  EXPECT_DOUBLE_EQ(opt.momentum(0), 0.5);
  EXPECT_THROW(optim::ConstantSchedule({}), Error);
}

}  // namespace
}  // namespace keel
