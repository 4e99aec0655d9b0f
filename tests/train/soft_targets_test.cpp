// Label smoothing and mixup: the gradient of the soft-target loss against central finite
// differences of the documented loss computed in double, the reported loss, the mixup weights and
// the row blending.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "keel/random.h"
#include "keel/tensor.h"
#include "train/soft_targets.h"

namespace keel::train::detail {
namespace {

constexpr int kRows = 5, kClasses = 3;

// -(1/N) sum_i sum_k q_ik log softmax(z)_ik with q as in soft_targets.h, in double.
double reference_loss(const std::vector<double>& z, const std::vector<int>& a,
                      const std::vector<int>& b, double lambda, double eps) {
  double total = 0.0;
  for (int i = 0; i < kRows; ++i) {
    double top = z[i * kClasses];
    for (int k = 1; k < kClasses; ++k) top = std::max(top, z[i * kClasses + k]);
    double denom = 0.0;
    for (int k = 0; k < kClasses; ++k) denom += std::exp(z[i * kClasses + k] - top);
    for (int k = 0; k < kClasses; ++k) {
      const double q =
          (1 - eps) * (lambda * (a[i] == k) + (1 - lambda) * (b[i] == k)) + eps / kClasses;
      total -= q * (z[i * kClasses + k] - top - std::log(denom));
    }
  }
  return total / kRows;
}

struct Case {
  float lambda;
  float eps;
};

class SoftTargetGradient : public ::testing::TestWithParam<Case> {};

TEST_P(SoftTargetGradient, MatchesFiniteDifferencesOfTheLoss) {
  const Case c = GetParam();
  Generator gen(11);
  std::vector<float> logits(kRows * kClasses);
  for (float& v : logits) v = gen.next_uniform(-2.0f, 2.0f);
  const std::vector<int> a = {0, 2, 1, 1, 0}, b = {1, 2, 0, 2, 0};
  const Tensor z = Tensor::from_data({kRows, kClasses}, logits);
  const Tensor la = Tensor::from_data({kRows}, std::vector<float>(a.begin(), a.end()));
  const Tensor lb = Tensor::from_data({kRows}, std::vector<float>(b.begin(), b.end()));
  SoftTargets targets;
  targets.labels = &la;
  targets.partner_labels = &lb;
  targets.lambda = c.lambda;
  targets.epsilon = c.eps;
  SoftTargetLoss loss_fn;
  Tensor loss, probs, dlogits;
  loss_fn.forward_backward(z, targets, loss, probs, dlogits);
  const std::vector<float> grad = dlogits.to_vector();

  std::vector<double> zd(logits.begin(), logits.end());
  const double h = 1e-5;
  for (size_t j = 0; j < zd.size(); ++j) {
    std::vector<double> up = zd, down = zd;
    up[j] += h;
    down[j] -= h;
    const double numeric =
        (reference_loss(up, a, b, c.lambda, c.eps) - reference_loss(down, a, b, c.lambda, c.eps)) /
        (2 * h);
    EXPECT_NEAR(grad[j], numeric, 2e-6) << "logit " << j;
  }
  // The reported loss: the cross-entropy against the mixed hard labels, smoothing left out.
  EXPECT_NEAR(loss.item(), reference_loss(zd, a, b, c.lambda, 0.0), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(SmoothingAndMixup, SoftTargetGradient,
                         ::testing::Values(Case{1.0f, 0.1f}, Case{0.7f, 0.0f}, Case{0.7f, 0.1f},
                                           Case{0.55f, 0.3f}));

TEST(Mixup, LambdaIsFoldedIntoTheUpperHalfAndReproducible) {
  for (double alpha : {0.2, 0.4, 1.0, 4.0}) {
    Generator gen(3), again(3);
    double sum = 0.0;
    for (int i = 0; i < 2000; ++i) {
      const float l = sample_mixup_lambda(alpha, gen);
      ASSERT_GE(l, 0.5f);
      ASSERT_LE(l, 1.0f);
      ASSERT_EQ(l, sample_mixup_lambda(alpha, again));
      sum += l;
    }
    // E[max(L, 1 - L)] for L ~ Beta(1, 1) is 3/4; smaller alpha pushes it to 1, larger to 1/2.
    if (alpha == 1.0) {
      EXPECT_NEAR(sum / 2000, 0.75, 0.015);
    }
    if (alpha == 0.2) {
      EXPECT_GT(sum / 2000, 0.85);
    }
    if (alpha == 4.0) {
      EXPECT_LT(sum / 2000, 0.65);
    }
  }
}

TEST(Mixup, RowsAreBlendedWithTheirPartners) {
  const Tensor x = Tensor::from_data({3, 2}, std::vector<float>{1, 2, 3, 4, 5, 6});
  const Tensor partners = Tensor::from_data({3}, std::vector<float>{2, 0, 1});
  Tensor mixed, scratch;
  mix_rows(x, partners, 0.75f, mixed, scratch);
  const std::vector<float> expected = {0.75f * 1 + 0.25f * 5, 0.75f * 2 + 0.25f * 6,
                                       0.75f * 3 + 0.25f * 1, 0.75f * 4 + 0.25f * 2,
                                       0.75f * 5 + 0.25f * 3, 0.75f * 6 + 0.25f * 4};
  const std::vector<float> got = mixed.to_vector();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_FLOAT_EQ(got[i], expected[i]);
}

}  // namespace
}  // namespace keel::train::detail
