// Softmax cross-entropy and row argmax on the CPU: loss, probabilities and gradient against the
// float64 reference (also with huge logits), a finite-difference check, bad labels and shapes.
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "keel/random.h"
#include "ops/misc_reference.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::gradient_check_error;
using testing::random_tensor;
using testing::relative_error;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Tensor random_labels(int64_t n, int64_t k, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> labels(static_cast<size_t>(n));
  for (float& l : labels) l = static_cast<float>(gen.next_below(static_cast<uint64_t>(k)));
  return Tensor::from_data({n}, labels);
}

void check_against_reference(int64_t n, int64_t k, float low, float high) {
  Tensor logits = random_tensor({n, k}, 1, low, high), labels = random_labels(n, k, 2);
  Tensor loss = Tensor::full({1}, kNaN), probs = Tensor::full({n, k}, kNaN);
  softmax_cross_entropy_forward(logits, labels, loss, probs);
  const auto ref = reference::softmax_cross_entropy(logits.to_vector(), labels.to_vector(), n, k);
  EXPECT_LT(relative_error(loss.to_vector(), std::vector<double>{ref.loss}), 1e-5) << n << "x" << k;
  EXPECT_LT(relative_error(probs.to_vector(), ref.probs), 1e-5) << n << "x" << k;
  Tensor dlogits = Tensor::full({n, k}, kNaN);
  softmax_cross_entropy_backward(probs, labels, dlogits);
  EXPECT_LT(relative_error(dlogits.to_vector(), ref.dlogits), 1e-5) << n << "x" << k;
}

TEST(SoftmaxCrossEntropy, MatchesReference) {
  check_against_reference(3, 7, -3.0f, 3.0f);
  check_against_reference(64, 2, -2.0f, 2.0f);  // the titanic head
  check_against_reference(5, 1000, -5.0f, 5.0f);
}

TEST(SoftmaxCrossEntropy, StableForHugeLogits) {
  // exp(900) overflows float and double: only the max-shifted form gives finite values.
  check_against_reference(3, 7, 900.0f, 1000.0f);
  check_against_reference(3, 7, -1000.0f, -900.0f);
}

TEST(SoftmaxCrossEntropy, KnownValue) {
  // Two equal logits: loss log 2, probabilities 1/2, gradient ±1/4 for a batch of 2.
  Tensor logits = Tensor::from_data({2, 2}, std::vector<float>{3, 3, -1, -1});
  Tensor labels = Tensor::from_data({2}, std::vector<float>{0, 1});
  Tensor loss, probs, dlogits;
  softmax_cross_entropy_forward(logits, labels, loss, probs);
  EXPECT_NEAR(loss.item(), std::log(2.0), 1e-7);
  softmax_cross_entropy_backward(probs, labels, dlogits);
  EXPECT_EQ(dlogits.to_vector(), (std::vector<float>{-0.25f, 0.25f, 0.25f, -0.25f}));
}

// dlogits = (probs - onehot) / N in float, bit for bit, into another tensor or in place.
TEST(SoftmaxCrossEntropy, BackwardIsExactAndMayWorkInPlace) {
  for (auto [n, k] : {std::pair<int64_t, int64_t>{64, 2}, {5, 1000}, {3, 37}}) {
    Tensor logits = random_tensor({n, k}, 5, -3.0f, 3.0f), labels = random_labels(n, k, 6);
    Tensor loss, probs, dlogits = Tensor::full({n, k}, kNaN);
    softmax_cross_entropy_forward(logits, labels, loss, probs);
    softmax_cross_entropy_backward(probs, labels, dlogits);
    const auto pv = probs.to_vector(), lv = labels.to_vector();
    std::vector<float> expected(pv.size());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < k; ++j)
        expected[i * k + j] = (pv[i * k + j] - (j == static_cast<int64_t>(lv[i]) ? 1.0f : 0.0f)) *
                              (1.0f / static_cast<float>(n));
    EXPECT_EQ(dlogits.to_vector(), expected) << n << "x" << k;
    softmax_cross_entropy_backward(probs, labels, probs);
    EXPECT_EQ(probs.to_vector(), expected) << n << "x" << k << " in place";
  }
}

TEST(SoftmaxCrossEntropy, GradientCheck) {
  // d loss / d logits by central differences (h = 1e-2, smooth function): tolerance 1e-2.
  const int64_t n = 3, k = 7;
  Tensor logits = random_tensor({n, k}, 3, -2.0f, 2.0f), labels = random_labels(n, k, 4);
  Tensor loss, probs, dlogits;
  softmax_cross_entropy_forward(logits, labels, loss, probs);
  softmax_cross_entropy_backward(probs, labels, dlogits);
  auto forward = [&]() {
    Tensor l, p;
    softmax_cross_entropy_forward(logits, labels, l, p);
    return l;
  };
  EXPECT_LT(gradient_check_error(forward, logits, Tensor::full({1}, 1.0f), dlogits), 1e-2);
}

TEST(SoftmaxCrossEntropy, BadLabelsThrow) {
  Tensor logits = random_tensor({3, 4}, 5), loss, probs, dlogits;
  softmax_cross_entropy_forward(logits, random_labels(3, 4, 6), loss, probs);
  for (float bad : {4.0f, -1.0f, 1.5f, kNaN}) {
    Tensor labels = Tensor::from_data({3}, std::vector<float>{0, bad, 2});
    EXPECT_THROW(softmax_cross_entropy_forward(logits, labels, loss, probs), Error) << bad;
    EXPECT_THROW(softmax_cross_entropy_backward(probs, labels, dlogits), Error) << bad;
  }
  EXPECT_THROW(softmax_cross_entropy_forward(logits, Tensor::zeros({4}), loss, probs), Error);
  EXPECT_THROW(softmax_cross_entropy_forward(random_tensor({3, 4, 1, 1}, 7), Tensor::zeros({3}),
                                             loss, probs),
               Error);
}

TEST(ArgmaxRows, FirstMaximumWins) {
  Tensor logits = Tensor::from_data({3, 4}, std::vector<float>{0, 2, 2, 1,      //
                                                               -5, -7, -6, -5,  //
                                                               1, 0, 3, 0});
  Tensor pred = Tensor::full({3}, kNaN);
  argmax_rows(logits, pred);
  EXPECT_EQ(pred.to_vector(), (std::vector<float>{1, 0, 2}));
  EXPECT_THROW(argmax_rows(random_tensor({3}, 8), pred), Error);
}

}  // namespace
}  // namespace keel
