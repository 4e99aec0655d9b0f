// Softmax cross-entropy and row argmax on the CPU: a known value, a backward pass exact to the bit
// (also in place), bad labels, and the first of equal maxima. The float64 references (also with
// huge logits) and finite differences are the op-case table's
// (tests/op_cases/cases_loss_optim.cpp).
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "keel/random.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::random_tensor;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Tensor random_labels(int64_t n, int64_t k, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> labels(static_cast<size_t>(n));
  for (float& l : labels) l = static_cast<float>(gen.next_below(static_cast<uint64_t>(k)));
  return Tensor::from_data({n}, labels);
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
