// linear on the CPU: y = x wᵀ + b and its backward pass against float64 loops, finite-difference
// gradients, poisoned outputs, determinism and shape errors.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "keel/runtime.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::random_tensor;
using testing::relative_error;

struct LinearDims {
  int64_t n, in, out;
};

std::vector<double> reference_forward(const std::vector<float>& x, const std::vector<float>& w,
                                      const std::vector<float>& b, const LinearDims& d) {
  std::vector<double> y(static_cast<size_t>(d.n * d.out));
  for (int64_t i = 0; i < d.n; ++i)
    for (int64_t o = 0; o < d.out; ++o) {
      double acc = b.empty() ? 0.0 : b[static_cast<size_t>(o)];
      for (int64_t k = 0; k < d.in; ++k)
        acc += static_cast<double>(x[static_cast<size_t>(i * d.in + k)]) *
               w[static_cast<size_t>(o * d.in + k)];
      y[static_cast<size_t>(i * d.out + o)] = acc;
    }
  return y;
}

bool all_finite(const Tensor& t) {
  for (float v : t.to_vector()) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

Tensor poisoned(const Shape& shape) {
  return Tensor::full(shape, std::nanf(""));
}

// Each output is a float dot product of at most max(N, I) terms: ~1e-7·sqrt(terms) relative.
constexpr double kTolerance = 1e-5;

class LinearVsReference : public ::testing::TestWithParam<LinearDims> {};

TEST_P(LinearVsReference, ForwardAndBackward) {
  const LinearDims d = GetParam();
  const Tensor x = random_tensor({d.n, d.in}, 1);
  const Tensor w = random_tensor({d.out, d.in}, 2, -0.5f, 0.5f);
  const Tensor b = random_tensor({d.out}, 3);
  const Tensor dy = random_tensor({d.n, d.out}, 4);
  const auto xv = x.to_vector(), wv = w.to_vector(), dyv = dy.to_vector();

  for (bool with_bias : {true, false}) {
    Tensor y = poisoned({d.n, d.out});
    linear_forward(x, w, with_bias ? b : Tensor(), y);
    EXPECT_TRUE(all_finite(y));
    const auto ref = reference_forward(xv, wv, with_bias ? b.to_vector() : std::vector<float>{}, d);
    EXPECT_LT(relative_error(y.to_vector(), ref), kTolerance) << "bias " << with_bias;
  }

  std::vector<double> dx_ref(static_cast<size_t>(d.n * d.in), 0.0);
  std::vector<double> dw_ref(static_cast<size_t>(d.out * d.in), 0.0);
  std::vector<double> db_ref(static_cast<size_t>(d.out), 0.0);
  for (int64_t i = 0; i < d.n; ++i)
    for (int64_t o = 0; o < d.out; ++o) {
      const double g = dyv[static_cast<size_t>(i * d.out + o)];
      db_ref[static_cast<size_t>(o)] += g;
      for (int64_t k = 0; k < d.in; ++k) {
        dx_ref[static_cast<size_t>(i * d.in + k)] += g * wv[static_cast<size_t>(o * d.in + k)];
        dw_ref[static_cast<size_t>(o * d.in + k)] += g * xv[static_cast<size_t>(i * d.in + k)];
      }
    }
  Tensor dx = poisoned({d.n, d.in}), dw = poisoned({d.out, d.in}), db = poisoned({d.out});
  linear_backward(x, w, dy, &dx, dw, &db);
  EXPECT_TRUE(all_finite(dx) && all_finite(dw) && all_finite(db));
  EXPECT_LT(relative_error(dx.to_vector(), dx_ref), kTolerance);
  EXPECT_LT(relative_error(dw.to_vector(), dw_ref), kTolerance);
  EXPECT_LT(relative_error(db.to_vector(), db_ref), kTolerance);

  Tensor dw_only = poisoned({d.out, d.in});
  linear_backward(x, w, dy, nullptr, dw_only, nullptr);
  EXPECT_LT(relative_error(dw_only.to_vector(), dw_ref), kTolerance);
}

// Odd sizes smaller than a tile, the flagship head (64×128 → 64 → 2) and the ResNet head.
INSTANTIATE_TEST_SUITE_P(Cpu, LinearVsReference,
                         ::testing::Values(LinearDims{3, 5, 7}, LinearDims{1, 1, 1},
                                           LinearDims{17, 33, 9}, LinearDims{64, 128, 64},
                                           LinearDims{64, 64, 2}, LinearDims{64, 1024, 512}));

// L = Σ y ⊙ weights is linear in x, w and b: only float rounding of the forward sums separates
// central differences from the exact gradient, ~1e-7/(2h); 1e-3 is a wide, honest margin.
TEST(LinearGradient, FiniteDifferences) {
  Tensor x = random_tensor({3, 5}, 11);
  Tensor w = random_tensor({7, 5}, 12);
  Tensor b = random_tensor({7}, 13);
  const Tensor weights = random_tensor({3, 7}, 14);
  const auto forward = [&] {
    Tensor y;
    linear_forward(x, w, b, y);
    return y;
  };
  Tensor dx, dw, db;
  linear_backward(x, w, weights, &dx, dw, &db);
  EXPECT_LT(testing::gradient_check_error(forward, x, weights, dx), 1e-3);
  EXPECT_LT(testing::gradient_check_error(forward, w, weights, dw), 1e-3);
  EXPECT_LT(testing::gradient_check_error(forward, b, weights, db), 1e-3);
}

TEST(LinearDeterminism, SameThreadsSameBits) {
  const int saved = num_threads();
  const Tensor x = random_tensor({64, 1024}, 21);
  const Tensor w = random_tensor({512, 1024}, 22);
  const Tensor dy = random_tensor({64, 512}, 23);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Tensor y1, y2, dx1, dx2, dw1, dw2;
    linear_forward(x, w, Tensor(), y1);
    linear_forward(x, w, Tensor(), y2);
    linear_backward(x, w, dy, &dx1, dw1, nullptr);
    linear_backward(x, w, dy, &dx2, dw2, nullptr);
    EXPECT_EQ(y1.to_vector(), y2.to_vector());
    EXPECT_EQ(dx1.to_vector(), dx2.to_vector());
    EXPECT_EQ(dw1.to_vector(), dw2.to_vector());
  }
  set_num_threads(saved);
}

}  // namespace
}  // namespace keel
