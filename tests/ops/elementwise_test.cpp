// Element-wise CPU ops where they alias their inputs (ReLU in place, add accumulating into an
// input), and sum against a double sum for any thread count. Their values, and those of scale, the
// channel ops and gathers, are the op-case table's (tests/op_cases/cases_elementwise.cpp).
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "keel/runtime.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::random_tensor;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(Relu, InPlace) {
  Tensor x = random_tensor({3, 7}, 3);
  const auto before = x.to_vector();
  relu_forward(x, x);
  Tensor dy = random_tensor({3, 7}, 4);
  const auto g = dy.to_vector();
  relu_backward(x, dy, dy);
  const auto after = x.to_vector(), dv = dy.to_vector();
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i], std::max(before[i], 0.0f));
    EXPECT_EQ(dv[i], before[i] > 0 ? g[i] : 0.0f);
  }
}

TEST(Add, MayWriteIntoAnInput) {
  Tensor a = random_tensor({3, 5, 5, 7}, 7), b = random_tensor({3, 5, 5, 7}, 8);
  const auto av = a.to_vector(), bv = b.to_vector();
  Tensor y = Tensor::full(a.shape(), kNaN);
  add(a, b, y);
  auto yv = y.to_vector();
  for (size_t i = 0; i < av.size(); ++i) ASSERT_EQ(yv[i], av[i] + bv[i]);
  add(a, b, a);  // residual connection accumulating into its input
  yv = a.to_vector();
  for (size_t i = 0; i < av.size(); ++i) ASSERT_EQ(yv[i], av[i] + bv[i]);
  Tensor wrong = random_tensor({3, 5, 7, 5}, 9);
  EXPECT_THROW(add(a, wrong, y), Error);
}

TEST(Sum, MatchesDoubleSumAndIsThreadIndependent) {
  Tensor x = random_tensor({64, 32, 6, 6}, 16, 0.5f, 1.5f);
  double expected = 0.0;
  for (float v : x.to_vector()) expected += v;
  const double once = sum(x);
  EXPECT_NEAR(once, expected, 1e-9 * std::abs(expected));
  const int threads = num_threads();
  set_num_threads(1);
  EXPECT_EQ(sum(x), once);
  set_num_threads(threads);
  EXPECT_EQ(sum(Tensor::from_data({3}, std::vector<float>{1.5f, -2.0f, 4.0f})), 3.5);
}

}  // namespace
}  // namespace keel
