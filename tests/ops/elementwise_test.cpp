// Elementwise CPU ops: ReLU (also in place), add with aliasing, scale, per-channel normalisation,
// channel concatenation and its split, and sum, checked element by element, plus shape errors.
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

using testing::gradient_check_error;
using testing::random_tensor;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(Relu, ForwardAndBackwardElementwise) {
  // 3·5·5·7 elements, and a large one for the parallel path.
  for (const Shape& shape : {Shape{3, 5, 5, 7}, Shape{64, 32, 6, 6}}) {
    Tensor x = random_tensor(shape, 1), dy = random_tensor(shape, 2);
    Tensor y = Tensor::full(shape, kNaN), dx = Tensor::full(shape, kNaN);
    relu_forward(x, y);
    relu_backward(y, dy, dx);
    const auto xv = x.to_vector(), yv = y.to_vector(), gv = dy.to_vector(), dv = dx.to_vector();
    for (size_t i = 0; i < xv.size(); ++i) {
      ASSERT_EQ(yv[i], xv[i] > 0 ? xv[i] : 0.0f) << i;
      ASSERT_EQ(dv[i], xv[i] > 0 ? gv[i] : 0.0f) << i;
    }
  }
}

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

TEST(Relu, GradientCheckAwayFromKink) {
  // Inputs kept at |x| >= 0.1 so ±h (1e-2) never crosses the kink at 0.
  std::vector<float> values = random_tensor({3, 5, 5, 7}, 5).to_vector();
  for (float& v : values) v = v >= 0 ? v + 0.1f : v - 0.1f;
  Tensor x = Tensor::from_data({3, 5, 5, 7}, values);
  Tensor w = random_tensor(x.shape(), 6);
  Tensor y, dx;
  relu_forward(x, y);
  relu_backward(y, w, dx);
  auto forward = [&]() {
    Tensor out;
    relu_forward(x, out);
    return out;
  };
  EXPECT_LT(gradient_check_error(forward, x, w, dx), 1e-3);
}

TEST(Add, ValuesAndAliasing) {
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

TEST(Scale, Values) {
  Tensor x = random_tensor({64, 1024}, 10);
  const auto xv = x.to_vector();
  Tensor y = Tensor::full(x.shape(), kNaN);
  scale(x, -2.5f, y);
  const auto yv = y.to_vector();
  for (size_t i = 0; i < xv.size(); ++i) ASSERT_EQ(yv[i], -2.5f * xv[i]);
}

TEST(NormalizeChannels, Values) {
  Tensor x = random_tensor({3, 3, 5, 7}, 11, 0.0f, 1.0f);
  Tensor mean = Tensor::from_data({3}, std::vector<float>{0.485f, 0.456f, 0.406f});
  Tensor std = Tensor::from_data({3}, std::vector<float>{0.229f, 0.224f, 0.225f});
  Tensor y = Tensor::full(x.shape(), kNaN);
  normalize_channels(x, mean, std, y);
  const auto xv = x.to_vector(), yv = y.to_vector(), m = mean.to_vector(), s = std.to_vector();
  std::vector<double> ref(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 35) % 3;
    ref[i] = (xv[i] - static_cast<double>(m[c])) / s[c];
  }
  EXPECT_LT(testing::relative_error(yv, ref), 1e-6);
  EXPECT_THROW(normalize_channels(x, Tensor::zeros({2}), std, y), Error);
  EXPECT_THROW(normalize_channels(x, mean, Tensor::zeros({3}), y), Error);
}

TEST(ConcatChannels, ConcatAndSplitRoundTrip) {
  for (const Shape& sa : {Shape{3, 5, 2, 3}, Shape{3, 5}}) {
    std::vector<int64_t> db = sa.dims();
    db[1] = 7;
    const Shape sb(db);
    Tensor a = random_tensor(sa, 12), b = random_tensor(sb, 13);
    std::vector<int64_t> dy_dims = sa.dims();
    dy_dims[1] = 12;
    Tensor y = Tensor::full(Shape(dy_dims), kNaN);
    concat_channels(a, b, y);
    ASSERT_EQ(y.shape(), Shape(dy_dims));
    const auto av = a.to_vector(), bv = b.to_vector(), yv = y.to_vector();
    const int64_t inner = sa.numel() / (sa[0] * sa[1]);
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t c = 0; c < 12; ++c)
        for (int64_t k = 0; k < inner; ++k) {
          const float expected =
              c < 5 ? av[(n * 5 + c) * inner + k] : bv[(n * 7 + c - 5) * inner + k];
          ASSERT_EQ(yv[(n * 12 + c) * inner + k], expected);
        }
    Tensor da = Tensor::full(sa, kNaN), dbt = Tensor::full(sb, kNaN);
    split_channels(y, 5, da, dbt);
    EXPECT_EQ(da.to_vector(), av);
    EXPECT_EQ(dbt.to_vector(), bv);
  }
  Tensor a = random_tensor({3, 5, 2, 3}, 14), other = random_tensor({2, 5, 2, 3}, 15), y, da, db;
  EXPECT_THROW(concat_channels(a, other, y), Error);
  EXPECT_THROW(split_channels(a, 6, da, db), Error);
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
