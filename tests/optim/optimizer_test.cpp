// SGD and AdamW against hand-computed values over three steps (PyTorch's formulas evaluated in
// double, element by element), parameter groups, weight-decay exclusion and state round trips.
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/nn/module.h"
#include "keel/optim.h"

namespace keel {
namespace {

nn::Parameter make_param(const std::vector<float>& values, int group = 0, bool decay = true) {
  nn::Parameter p;
  p.value = Tensor::from_data({static_cast<int64_t>(values.size())}, values);
  p.grad = Tensor::zeros(p.value.shape());
  p.group = group;
  p.decay = decay;
  return p;
}

void set_grad(nn::Parameter& p, const std::vector<float>& g) {
  p.grad.copy_from(Tensor::from_data(p.grad.shape(), g));
}

// The updates run in float32; the references in double. Values are O(1), three steps: a few ulp.
constexpr double kTol = 2e-6;

void expect_close(const Tensor& t, const std::vector<double>& ref, const std::string& what) {
  const std::vector<float> v = t.to_vector();
  ASSERT_EQ(v.size(), ref.size());
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_NEAR(v[i], ref[i], kTol * std::max(1.0, std::fabs(ref[i]))) << what << " element " << i;
  }
}

const std::vector<float> kStart = {0.5f, -1.0f, 2.0f, 0.25f};
const std::vector<std::vector<float>> kGrads = {
    {0.1f, -0.2f, 0.3f, -0.4f}, {-0.3f, 0.1f, 0.2f, 0.05f}, {0.25f, 0.25f, -0.5f, 0.0f}};

// torch.optim.SGD's update, one element at a time.
std::vector<double> sgd_reference(double lr, double momentum, double dampening, double wd,
                                  bool nesterov) {
  std::vector<double> p(kStart.begin(), kStart.end()), v(p.size(), 0.0);
  for (size_t t = 0; t < kGrads.size(); ++t) {
    for (size_t i = 0; i < p.size(); ++i) {
      double g = kGrads[t][i] + wd * p[i];
      if (momentum != 0.0) {
        v[i] = t == 0 ? g : momentum * v[i] + (1.0 - dampening) * g;
        g = nesterov ? g + momentum * v[i] : v[i];
      }
      p[i] -= lr * g;
    }
  }
  return p;
}

TEST(SGD, ThreeStepsMatchHandComputedValues) {
  struct Case {
    const char* name;
    optim::SgdOptions o;
  };
  const std::vector<Case> cases = {
      {"plain", {.lr = 0.1}},
      {"momentum", {.lr = 0.1, .momentum = 0.9}},
      {"momentum+dampening", {.lr = 0.1, .momentum = 0.9, .dampening = 0.3}},
      {"nesterov", {.lr = 0.1, .momentum = 0.9, .nesterov = true}},
      {"weight decay", {.lr = 0.1, .weight_decay = 0.05}},
      {"nesterov+weight decay",
       {.lr = 0.05, .momentum = 0.8, .weight_decay = 0.01, .nesterov = true}},
  };
  for (const Case& c : cases) {
    nn::Parameter p = make_param(kStart);
    optim::SGD opt({&p}, c.o);
    for (const auto& g : kGrads) {
      set_grad(p, g);
      opt.step();
    }
    EXPECT_EQ(opt.steps(), 3);
    expect_close(p.value,
                 sgd_reference(c.o.lr, c.o.momentum, c.o.dampening, c.o.weight_decay, c.o.nesterov),
                 c.name);
  }
}

TEST(SGD, RejectsInvalidSettings) {
  nn::Parameter p = make_param(kStart);
  EXPECT_THROW(optim::SGD({&p}, {.lr = 0.1, .nesterov = true}), Error);  // no momentum
  EXPECT_THROW(optim::SGD({&p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
               Error);
  EXPECT_THROW(optim::SGD({&p}, {.lr = -1.0}), Error);
}

struct AdamRef {
  double lr, beta1, beta2, eps, wd;
};

// torch.optim.AdamW's update, one element at a time; beta1 may change per step (one-cycle).
std::vector<double> adamw_reference(const std::vector<float>& start,
                                    const std::vector<std::vector<float>>& grads, AdamRef h,
                                    const std::vector<double>& beta1s = {}) {
  std::vector<double> p(start.begin(), start.end()), m(p.size(), 0.0), v(p.size(), 0.0);
  for (size_t t = 0; t < grads.size(); ++t) {
    const double b1 = beta1s.empty() ? h.beta1 : beta1s[t];
    const double step = static_cast<double>(t + 1);
    const double bc1 = 1.0 - std::pow(b1, step), bc2 = 1.0 - std::pow(h.beta2, step);
    for (size_t i = 0; i < p.size(); ++i) {
      const double g = grads[t][i];
      p[i] *= 1.0 - h.lr * h.wd;
      m[i] = b1 * m[i] + (1.0 - b1) * g;
      v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * g * g;
      p[i] -= h.lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + h.eps);
    }
  }
  return p;
}

TEST(AdamW, TwoGroupsWithDifferentLearningRatesAndWeightDecay) {
  const std::vector<float> start_b = {-0.75f, 1.5f, 0.1f, -2.0f};
  nn::Parameter a = make_param(kStart, 0), b = make_param(start_b, 1);
  optim::AdamW opt(
      {&a, &b},
      {.beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1, .lrs = {1e-2, 1e-1}});
  ASSERT_EQ(opt.num_groups(), 2);
  EXPECT_DOUBLE_EQ(opt.lr(0), 1e-2);
  EXPECT_DOUBLE_EQ(opt.lr(1), 1e-1);
  std::vector<std::vector<float>> grads_b;
  for (const auto& g : kGrads) {
    std::vector<float> gb(g.rbegin(), g.rend());  // other gradients for the second group
    grads_b.push_back(gb);
    set_grad(a, g);
    set_grad(b, gb);
    opt.step();
  }
  expect_close(a.value, adamw_reference(kStart, kGrads, {1e-2, 0.9, 0.99, 1e-8, 0.1}), "group 0");
  expect_close(b.value, adamw_reference(start_b, grads_b, {1e-1, 0.9, 0.99, 1e-8, 0.1}), "group 1");
}

// What a captured CUDA-graph step writes to the device before each replay: every group's values
// for the coming step, as the update ops would receive them.
TEST(AdamW, LiveGroupsAreTheNextStepsValues) {
  nn::Parameter a = make_param(kStart, 0), b = make_param(kStart, 1);
  optim::AdamW opt({&a, &b}, {.beta1 = 0.9, .beta2 = 0.99, .lrs = {1e-2, 1e-1}});
  set_grad(a, kGrads[0]);
  set_grad(b, kGrads[0]);
  opt.step();
  opt.set_lr(1, 0.3);
  opt.set_momentum(0, 0.85);
  const std::vector<LiveGroup> live = opt.live_groups();
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[0].lr, 1e-2f);
  EXPECT_EQ(live[0].momentum, 0.85f);
  EXPECT_EQ(live[0].beta2, 0.99f);
  EXPECT_EQ(live[0].step, 2);
  EXPECT_EQ(live[1].lr, 0.3f);
  EXPECT_EQ(live[1].momentum, 0.9f);
  EXPECT_EQ(live[1].step, 2);
}

TEST(AdamW, DecayAllOrOnlyParametersMarkedForDecay) {
  for (bool decay_all : {true, false}) {
    nn::Parameter w = make_param(kStart, 0, true), bias = make_param(kStart, 0, false);
    optim::AdamW opt({&w, &bias}, {.lr = 0.05, .weight_decay = 0.2, .decay_all = decay_all});
    for (const auto& g : kGrads) {
      set_grad(w, g);
      set_grad(bias, g);
      opt.step();
    }
    const AdamRef with{0.05, 0.9, 0.999, 1e-8, 0.2}, without{0.05, 0.9, 0.999, 1e-8, 0.0};
    expect_close(w.value, adamw_reference(kStart, kGrads, with), "decayed weight");
    expect_close(bias.value, adamw_reference(kStart, kGrads, decay_all ? with : without),
                 decay_all ? "bias, decay_all" : "bias, excluded");
  }
}

TEST(AdamW, MomentumSetBetweenStepsIsTheBeta1Used) {
  nn::Parameter p = make_param(kStart);
  optim::AdamW opt({&p}, {.lr = 0.01, .beta2 = 0.99, .weight_decay = 0.01});
  const std::vector<double> beta1s = {0.95, 0.9, 0.85};
  for (size_t t = 0; t < kGrads.size(); ++t) {
    opt.set_momentum(beta1s[t]);
    set_grad(p, kGrads[t]);
    opt.step();
  }
  expect_close(p.value, adamw_reference(kStart, kGrads, {0.01, 0.9, 0.99, 1e-8, 0.01}, beta1s),
               "cycled beta1");
  EXPECT_THROW(opt.set_momentum(1.0), Error);  // beta1 must stay below 1
}

// A checkpoint stores the moments by name and the step count; an optimizer restored from them
// continues exactly as the original.
TEST(Optimizer, StateVisitRoundTripContinuesBitIdentically) {
  nn::Parameter a = make_param(kStart, 0), b = make_param(kStart, 1);
  optim::AdamW opt({&a, &b}, {.lr = 0.01, .lrs = {0.01, 0.02}});
  for (size_t t = 0; t < 2; ++t) {
    set_grad(a, kGrads[t]);
    set_grad(b, kGrads[2 - t]);
    opt.step();
  }
  std::map<std::string, std::vector<float>> saved;
  opt.visit_state([&](const std::string& name, Tensor& s) { saved[name] = s.to_vector(); });
  EXPECT_EQ(saved.size(), 4u);
  for (const char* name : {"exp_avg.0", "exp_avg_sq.0", "exp_avg.1", "exp_avg_sq.1"}) {
    EXPECT_TRUE(saved.count(name)) << name;
  }

  nn::Parameter a2 = make_param(a.value.to_vector(), 0), b2 = make_param(b.value.to_vector(), 1);
  optim::AdamW restored({&a2, &b2}, {.lr = 0.01, .lrs = {0.01, 0.02}});
  restored.visit_state([&](const std::string& name, Tensor& s) {
    s.copy_from(Tensor::from_data(s.shape(), saved.at(name)));
  });
  restored.set_steps(opt.steps());
  set_grad(a, kGrads[2]);
  set_grad(b, kGrads[0]);
  set_grad(a2, kGrads[2]);
  set_grad(b2, kGrads[0]);
  opt.step();
  restored.step();
  EXPECT_EQ(a.value.to_vector(), a2.value.to_vector());
  EXPECT_EQ(b.value.to_vector(), b2.value.to_vector());

  // reset_state forgets everything: the next step is a first step again.
  opt.reset_state();
  EXPECT_EQ(opt.steps(), 0);
  opt.visit_state([](const std::string&, Tensor& s) {
    for (float v : s.to_vector()) EXPECT_EQ(v, 0.0f);
  });
}

TEST(Optimizer, SgdVelocityIsItsState) {
  nn::Parameter p = make_param(kStart);
  optim::SGD opt({&p}, {.lr = 0.1, .momentum = 0.9});
  set_grad(p, kGrads[0]);
  opt.step();
  int visited = 0;
  opt.visit_state([&](const std::string& name, Tensor& s) {
    EXPECT_EQ(name, "velocity.0");
    // The first step sets the velocity to the gradient.
    EXPECT_EQ(s.to_vector(), kGrads[0]);
    ++visited;
  });
  EXPECT_EQ(visited, 1);
}

TEST(Optimizer, GroupsAndErrors) {
  nn::Parameter a = make_param(kStart, 0), c = make_param(kStart, 2);
  optim::AdamW opt({&a, &c});
  EXPECT_EQ(opt.num_groups(), 3);  // group 1 is empty but exists
  opt.set_lr(1, 0.5);
  EXPECT_DOUBLE_EQ(opt.lr(1), 0.5);
  EXPECT_DOUBLE_EQ(opt.lr(2), 1e-3);
  EXPECT_THROW(opt.set_lr(3, 0.1), Error);
  EXPECT_THROW(opt.set_lr(0, -0.1), Error);
  // One learning rate per group, or none.
  EXPECT_THROW(optim::AdamW({&a, &c}, {.lrs = {1e-3, 1e-2}}), Error);
  EXPECT_NO_THROW(optim::AdamW({&a, &c}, {.lrs = {1e-3, 1e-2, 1e-1}}));
  // A parameter without a gradient cannot be stepped.
  nn::Parameter no_grad;
  no_grad.value = Tensor::zeros({3});
  optim::SGD sgd({&no_grad});
  EXPECT_THROW(sgd.step(), Error);
  nn::Parameter negative = make_param(kStart, -1);
  EXPECT_THROW(optim::SGD({&negative}), Error);
  EXPECT_NE(opt.describe().find("AdamW"), std::string::npos);
}

}  // namespace
}  // namespace keel
