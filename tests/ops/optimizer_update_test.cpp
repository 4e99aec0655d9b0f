// Fused optimizer updates on the CPU: SGD (plain, momentum with dampening, Nesterov, weight decay)
// and AdamW over three steps against the scalar formulas written out here in double.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::random_tensor;
using testing::relative_error;

constexpr int kSteps = 3;
const Shape kShape{7};

std::vector<double> to_double(const Tensor& t) {
  const auto v = t.to_vector();
  return {v.begin(), v.end()};
}

void check_sgd(const SgdArgs& a, const char* name) {
  Tensor param = random_tensor(kShape, 1, -1.0f, 1.0f);
  Tensor velocity = Tensor::zeros(kShape);
  std::vector<double> p = to_double(param), v(p.size(), 0.0);
  for (int step = 0; step < kSteps; ++step) {
    Tensor grad = random_tensor(kShape, 10 + step, -1.0f, 1.0f);
    const std::vector<double> g0 = to_double(grad);
    sgd_update(param, grad, velocity, a, step == 0);
    for (size_t i = 0; i < p.size(); ++i) {
      double g = g0[i] + a.weight_decay * p[i];
      if (a.momentum != 0.0f) {
        v[i] = step == 0 ? g : a.momentum * v[i] + (1.0 - a.dampening) * g;
        g = a.nesterov ? g + a.momentum * v[i] : v[i];
      }
      p[i] -= a.lr * g;
    }
    EXPECT_LT(relative_error(param.to_vector(), p), 1e-6) << name << " step " << step + 1;
    if (a.momentum != 0.0f) {
      EXPECT_LT(relative_error(velocity.to_vector(), v), 1e-6) << name << " step " << step + 1;
    }
  }
}

TEST(SgdUpdate, ThreeStepsMatchHandComputedValues) {
  check_sgd(SgdArgs{0.1f, 0.0f, 0.0f, 0.0f, false}, "plain");
  check_sgd(SgdArgs{0.1f, 0.9f, 0.0f, 0.0f, false}, "momentum");
  check_sgd(SgdArgs{0.1f, 0.9f, 0.3f, 0.0f, false}, "momentum with dampening");
  check_sgd(SgdArgs{0.1f, 0.9f, 0.0f, 0.0f, true}, "nesterov");
  check_sgd(SgdArgs{0.1f, 0.0f, 0.0f, 0.05f, false}, "weight decay");
  check_sgd(SgdArgs{0.1f, 0.9f, 0.0f, 0.05f, true}, "nesterov with weight decay");
}

TEST(SgdUpdate, FirstStepKnownValue) {
  // p = 1, g = 0.5, wd 0.1 -> g' = 0.6; first step v = 0.6; nesterov: p -= 0.1 (0.6 + 0.9 0.6).
  Tensor param = Tensor::full({1}, 1.0f), grad = Tensor::full({1}, 0.5f), v = Tensor::zeros({1});
  sgd_update(param, grad, v, SgdArgs{0.1f, 0.9f, 0.0f, 0.1f, true}, true);
  EXPECT_NEAR(v.item(), 0.6, 1e-7);
  EXPECT_NEAR(param.item(), 1.0 - 0.1 * (0.6 + 0.9 * 0.6), 1e-7);
}

TEST(AdamWUpdate, ThreeStepsMatchHandComputedValues) {
  for (float wd : {0.0f, 0.01f, 0.3f}) {
    const AdamWArgs base{1e-2f, 0.9f, 0.99f, 1e-8f, wd, 1};
    Tensor param = random_tensor(kShape, 2, -1.0f, 1.0f);
    Tensor m = Tensor::zeros(kShape), v = Tensor::zeros(kShape);
    std::vector<double> p = to_double(param), rm(p.size(), 0.0), rv(p.size(), 0.0);
    for (int step = 1; step <= kSteps; ++step) {
      AdamWArgs a = base;
      a.step = step;
      Tensor grad = random_tensor(kShape, 20 + step, -1.0f, 1.0f);
      const std::vector<double> g = to_double(grad);
      adamw_update(param, grad, m, v, a);
      for (size_t i = 0; i < p.size(); ++i) {
        p[i] -= a.lr * a.weight_decay * p[i];
        rm[i] = a.beta1 * rm[i] + (1.0 - a.beta1) * g[i];
        rv[i] = a.beta2 * rv[i] + (1.0 - a.beta2) * g[i] * g[i];
        const double mhat = rm[i] / (1.0 - std::pow(static_cast<double>(a.beta1), step));
        const double vhat = rv[i] / (1.0 - std::pow(static_cast<double>(a.beta2), step));
        p[i] -= a.lr * mhat / (std::sqrt(vhat) + a.eps);
      }
      EXPECT_LT(relative_error(param.to_vector(), p), 1e-6) << "wd " << wd << " step " << step;
      EXPECT_LT(relative_error(m.to_vector(), rm), 1e-6) << "wd " << wd << " step " << step;
      EXPECT_LT(relative_error(v.to_vector(), rv), 1e-6) << "wd " << wd << " step " << step;
    }
  }
}

TEST(AdamWUpdate, FirstStepMovesByLearningRate) {
  // Step 1: mhat = g, vhat = g², so each parameter moves by lr·sign(g) (up to eps), after decay.
  Tensor param = Tensor::from_data({2}, std::vector<float>{1.0f, -2.0f});
  Tensor grad = Tensor::from_data({2}, std::vector<float>{0.3f, -0.7f});
  Tensor m = Tensor::zeros({2}), v = Tensor::zeros({2});
  adamw_update(param, grad, m, v, AdamWArgs{0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, 1});
  const auto p = param.to_vector();
  EXPECT_NEAR(p[0], 1.0 * (1 - 0.05) - 0.1, 1e-6);
  EXPECT_NEAR(p[1], -2.0 * (1 - 0.05) + 0.1, 1e-6);
}

TEST(OptimizerUpdate, BadArgumentsThrow) {
  Tensor param = Tensor::zeros({3}), grad = Tensor::zeros({4}), v = Tensor::zeros({3});
  EXPECT_THROW(sgd_update(param, grad, v, SgdArgs{}, true), Error);
  Tensor grad3 = Tensor::zeros({3});
  EXPECT_THROW(sgd_update(param, grad3, v, SgdArgs{0.1f, 0.0f, 0.0f, 0.0f, true}, true), Error);
  Tensor v_wrong = Tensor::zeros({2});
  EXPECT_THROW(sgd_update(param, grad3, v_wrong, SgdArgs{0.1f, 0.9f, 0.0f, 0.0f, false}, true),
               Error);
  Tensor m = Tensor::zeros({3});
  EXPECT_THROW(adamw_update(param, grad, m, v, AdamWArgs{}), Error);
  AdamWArgs zero_step;
  zero_step.step = 0;
  EXPECT_THROW(adamw_update(param, grad3, m, v, zero_step), Error);
}

}  // namespace
}  // namespace keel
