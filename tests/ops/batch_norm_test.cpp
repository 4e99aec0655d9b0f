// Batch norm 2d and 1d on the CPU: training and evaluation against the float64 loop reference,
// running-statistics updates, accuracy with a large mean, finite-difference gradients, shape
// errors; the fused batch norm + ReLU pair against the reference and the two separate ops.
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "keel/runtime.h"
#include "ops/misc_reference.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::gradient_check_error;
using testing::random_tensor;
using testing::relative_error;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kMomentum = 0.1f;
constexpr float kEps = 1e-5f;

std::vector<double> invstd_of(const std::vector<double>& var) {
  std::vector<double> out;
  for (double v : var) out.push_back(1.0 / std::sqrt(v + kEps));
  return out;
}

// Channel-wise parameters and running statistics for `c` channels (variance kept positive).
struct Params {
  Tensor gamma, beta, running_mean, running_var;
  explicit Params(int64_t c, uint64_t seed)
      : gamma(random_tensor({c}, seed, 0.5f, 1.5f)),
        beta(random_tensor({c}, seed + 1, -0.5f, 0.5f)),
        running_mean(random_tensor({c}, seed + 2, -0.2f, 0.2f)),
        running_var(random_tensor({c}, seed + 3, 0.5f, 2.0f)) {}
};

// x: (N, C, H, W) or (N, C) with values in [offset - spread, offset + spread).
void check_train_against_reference(const Shape& shape, float offset, float spread, double tol) {
  const int64_t n = shape[0], c = shape[1], l = shape.numel() / (n * c);
  Tensor x = random_tensor(shape, 11, offset - spread, offset + spread);
  Params p(c, 20);
  const std::vector<float> rm0 = p.running_mean.to_vector(), rv0 = p.running_var.to_vector();
  Tensor y = Tensor::full(shape, kNaN), mean = Tensor::full({c}, kNaN),
         invstd = Tensor::full({c}, kNaN);
  batch_norm_forward_train(x, p.gamma, p.beta, p.running_mean, p.running_var, kMomentum, kEps, y,
                           mean, invstd);
  const auto ref = reference::batch_norm_train(x.to_vector(), n, c, l, p.gamma.to_vector(),
                                               p.beta.to_vector(), rm0, rv0, kMomentum, kEps);
  EXPECT_LT(relative_error(y.to_vector(), ref.y), tol) << shape.str();
  EXPECT_LT(relative_error(mean.to_vector(), ref.mean), tol) << shape.str();
  EXPECT_LT(relative_error(invstd.to_vector(), invstd_of(ref.var_biased)), tol) << shape.str();
  EXPECT_LT(relative_error(p.running_mean.to_vector(), ref.running_mean), tol) << shape.str();
  EXPECT_LT(relative_error(p.running_var.to_vector(), ref.running_var), tol) << shape.str();
}

TEST(BatchNorm, Train2dMatchesReference) {
  check_train_against_reference({3, 5, 5, 7}, 0.3f, 1.0f, 1e-5);
  // Large enough to take the parallel path: the flagship CNN's first block.
  check_train_against_reference({64, 32, 6, 6}, -0.2f, 2.0f, 1e-5);
}

TEST(BatchNorm, Train1dMatchesReference) {
  // 37 channels: two full blocks of 16 and a tail.
  check_train_against_reference({5, 37}, 0.1f, 1.0f, 1e-5);
  check_train_against_reference({64, 1024}, 0.0f, 1.0f, 1e-5);
}

TEST(BatchNorm, LargeMeanDoesNotCancel) {
  // mean 100, std ~0.06: a one-pass float E[x²] - E[x]² would lose every digit of the variance.
  // What remains is the rounding of the saved mean to float (~4e-6 / 0.06 relative).
  check_train_against_reference({3, 5, 5, 7}, 100.0f, 0.1f, 2e-4);
  check_train_against_reference({7, 19}, 100.0f, 0.1f, 2e-4);
}

TEST(BatchNorm, RunningVarUsesUnbiasedVariance) {
  // Two values per channel, 1 and 3: biased variance 1, unbiased 2.
  Tensor x = Tensor::from_data({2, 1}, std::vector<float>{1.0f, 3.0f});
  Tensor gamma = Tensor::full({1}, 1.0f), beta = Tensor::zeros({1});
  Tensor rm = Tensor::zeros({1}), rv = Tensor::full({1}, 1.0f);
  Tensor y, mean, invstd;
  batch_norm_forward_train(x, gamma, beta, rm, rv, 0.5f, 0.0f, y, mean, invstd);
  EXPECT_FLOAT_EQ(rm.item(), 1.0f);      // 0.5 * 0 + 0.5 * 2
  EXPECT_FLOAT_EQ(rv.item(), 1.5f);      // 0.5 * 1 + 0.5 * 2
  EXPECT_FLOAT_EQ(invstd.item(), 1.0f);  // 1 / sqrt(biased 1)
  EXPECT_EQ(y.to_vector(), (std::vector<float>{-1.0f, 1.0f}));
}

void check_eval_against_reference(const Shape& shape) {
  const int64_t n = shape[0], c = shape[1], l = shape.numel() / (n * c);
  Tensor x = random_tensor(shape, 31, -1.5f, 1.5f);
  Params p(c, 40);
  Tensor y = Tensor::full(shape, kNaN);
  batch_norm_forward_eval(x, p.gamma, p.beta, p.running_mean, p.running_var, kEps, y);
  const auto ref =
      reference::batch_norm_eval(x.to_vector(), n, c, l, p.gamma.to_vector(), p.beta.to_vector(),
                                 p.running_mean.to_vector(), p.running_var.to_vector(), kEps);
  EXPECT_LT(relative_error(y.to_vector(), ref), 1e-6) << shape.str();
}

TEST(BatchNorm, EvalMatchesReference) {
  check_eval_against_reference({3, 5, 5, 7});
  check_eval_against_reference({64, 32, 6, 6});
  check_eval_against_reference({5, 37});
  check_eval_against_reference({64, 1024});
}

// Gradients of L = Σ y ⊙ w w.r.t. x, gamma and beta, by central differences in float
// (h = 1e-2: batch norm is smooth, so the error is the O(h²) term plus float rounding).
void check_gradients(const Shape& shape) {
  const int64_t c = shape[1];
  Tensor x = random_tensor(shape, 51, -1.0f, 1.0f);
  Params p(c, 60);
  Tensor weights = random_tensor(shape, 70, -1.0f, 1.0f);
  auto forward = [&]() {
    Tensor rm = p.running_mean.clone(), rv = p.running_var.clone();
    Tensor y, mean, invstd;
    batch_norm_forward_train(x, p.gamma, p.beta, rm, rv, kMomentum, kEps, y, mean, invstd);
    return y;
  };
  Tensor rm = p.running_mean.clone(), rv = p.running_var.clone();
  Tensor y, mean, invstd;
  batch_norm_forward_train(x, p.gamma, p.beta, rm, rv, kMomentum, kEps, y, mean, invstd);
  Tensor dx = Tensor::full(shape, kNaN), dgamma = Tensor::full({c}, kNaN),
         dbeta = Tensor::full({c}, kNaN);
  batch_norm_backward(x, p.gamma, mean, invstd, weights, dx, dgamma, dbeta);
  EXPECT_LT(gradient_check_error(forward, x, weights, dx), 1e-2) << "dx " << shape.str();
  EXPECT_LT(gradient_check_error(forward, p.gamma, weights, dgamma), 1e-2)
      << "dgamma " << shape.str();
  EXPECT_LT(gradient_check_error(forward, p.beta, weights, dbeta), 1e-2) << "dbeta " << shape.str();
}

TEST(BatchNorm, Gradients2d) {
  check_gradients({3, 5, 5, 7});
}
TEST(BatchNorm, Gradients1d) {
  check_gradients({6, 19});
}

// The backward pass against the analytic formula evaluated in double.
void check_backward_closed_form(const Shape& shape) {
  const int64_t n = shape[0], c = shape[1], l = shape.numel() / (n * c);
  Tensor x = random_tensor(shape, 81, -1.0f, 1.0f), dy = random_tensor(shape, 82, -1.0f, 1.0f);
  Params p(c, 90);
  Tensor y, mean, invstd, dx, dgamma, dbeta;
  batch_norm_forward_train(x, p.gamma, p.beta, p.running_mean, p.running_var, kMomentum, kEps, y,
                           mean, invstd);
  batch_norm_backward(x, p.gamma, mean, invstd, dy, dx, dgamma, dbeta);
  const auto xv = x.to_vector(), gv = dy.to_vector(), gamma = p.gamma.to_vector();
  const auto ref = reference::batch_norm_train(xv, n, c, l, gamma, p.beta.to_vector(),
                                               std::vector<float>(c, 0.0f),
                                               std::vector<float>(c, 1.0f), kMomentum, kEps);
  std::vector<double> rdx(xv.size()), rdg(c, 0.0), rdb(c, 0.0);
  const double m = static_cast<double>(n * l);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double is = 1.0 / std::sqrt(ref.var_biased[ch] + kEps);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < l; ++k) {
        const int64_t idx = (i * c + ch) * l + k;
        rdb[ch] += gv[idx];
        rdg[ch] += gv[idx] * (xv[idx] - ref.mean[ch]) * is;
      }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < l; ++k) {
        const int64_t idx = (i * c + ch) * l + k;
        const double xhat = (xv[idx] - ref.mean[ch]) * is;
        rdx[idx] = gamma[ch] * is * (gv[idx] - rdb[ch] / m - xhat * rdg[ch] / m);
      }
  }
  EXPECT_LT(relative_error(dx.to_vector(), rdx), 1e-5) << shape.str();
  EXPECT_LT(relative_error(dgamma.to_vector(), rdg), 1e-5) << shape.str();
  EXPECT_LT(relative_error(dbeta.to_vector(), rdb), 1e-5) << shape.str();
}

TEST(BatchNorm, BackwardMatchesClosedFormOnLargeShapes) {
  // The parallel paths.
  check_backward_closed_form({64, 32, 6, 6});
  check_backward_closed_form({64, 1024});
}

TEST(BatchNorm, SameInputsGiveBitIdenticalResults) {
  Tensor x = random_tensor({64, 32, 6, 6}, 5);
  Params p(32, 6);
  Tensor y1, y2, m, s;
  Tensor rm = p.running_mean.clone(), rv = p.running_var.clone();
  batch_norm_forward_train(x, p.gamma, p.beta, rm, rv, kMomentum, kEps, y1, m, s);
  rm = p.running_mean.clone();
  rv = p.running_var.clone();
  batch_norm_forward_train(x, p.gamma, p.beta, rm, rv, kMomentum, kEps, y2, m, s);
  EXPECT_EQ(y1.to_vector(), y2.to_vector());
}

// ---- batch norm + ReLU, fused

// The fused forward against the float64 reference with the ReLU applied, then both passes against
// the separate ops (batch_norm_forward_train, relu_forward, relu_backward, batch_norm_backward),
// which they must reproduce bit for bit: the same arithmetic, only fewer passes.
void check_fused_relu(const Shape& shape) {
  const int64_t n = shape[0], c = shape[1], l = shape.numel() / (n * c);
  Tensor x = random_tensor(shape, 31, -1.0f, 1.0f), dy = random_tensor(shape, 32, -1.0f, 1.0f);
  Params p(c, 40);
  const std::vector<float> rm0 = p.running_mean.to_vector(), rv0 = p.running_var.to_vector();
  Tensor rm = p.running_mean.clone(), rv = p.running_var.clone();
  Tensor y = Tensor::full(shape, kNaN), mean = Tensor::full({c}, kNaN),
         invstd = Tensor::full({c}, kNaN);
  batch_norm_relu_forward_train(x, p.gamma, p.beta, rm, rv, kMomentum, kEps, y, mean, invstd);
  const auto ref = reference::batch_norm_train(x.to_vector(), n, c, l, p.gamma.to_vector(),
                                               p.beta.to_vector(), rm0, rv0, kMomentum, kEps);
  std::vector<double> ry = ref.y;
  int64_t clipped = 0;
  for (double& v : ry) {
    clipped += v <= 0.0;
    v = std::max(v, 0.0);
  }
  EXPECT_GT(clipped, shape.numel() / 4) << "the ReLU should clip a good part: " << shape.str();
  EXPECT_LT(relative_error(y.to_vector(), ry), 1e-5) << shape.str();
  EXPECT_LT(relative_error(mean.to_vector(), ref.mean), 1e-5) << shape.str();
  EXPECT_LT(relative_error(rm.to_vector(), ref.running_mean), 1e-5) << shape.str();
  EXPECT_LT(relative_error(rv.to_vector(), ref.running_var), 1e-5) << shape.str();

  Tensor dx = Tensor::full(shape, kNaN), dgamma = Tensor::full({c}, kNaN),
         dbeta = Tensor::full({c}, kNaN);
  batch_norm_relu_backward(x, y, p.gamma, mean, invstd, dy, dx, dgamma, dbeta);

  Tensor rm2 = p.running_mean.clone(), rv2 = p.running_var.clone();
  Tensor bn, mean2, invstd2, act, dact, dx2, dgamma2, dbeta2;
  batch_norm_forward_train(x, p.gamma, p.beta, rm2, rv2, kMomentum, kEps, bn, mean2, invstd2);
  relu_forward(bn, act);
  relu_backward(act, dy, dact);
  batch_norm_backward(x, p.gamma, mean2, invstd2, dact, dx2, dgamma2, dbeta2);
  EXPECT_EQ(y.to_vector(), act.to_vector()) << shape.str();
  EXPECT_EQ(rv.to_vector(), rv2.to_vector()) << shape.str();
  EXPECT_EQ(dx.to_vector(), dx2.to_vector()) << shape.str();
  EXPECT_EQ(dgamma.to_vector(), dgamma2.to_vector()) << shape.str();
  EXPECT_EQ(dbeta.to_vector(), dbeta2.to_vector()) << shape.str();
}

TEST(BatchNormRelu, MatchesReferenceAndSeparateOps) {
  check_fused_relu({3, 5, 5, 7});
  check_fused_relu({64, 32, 6, 6});   // the flagship's blocks: parallel, 36-value planes
  check_fused_relu({64, 128, 3, 3});  // 9-value planes, a single masked vector each
  check_fused_relu({5, 37});          // 1d
}

// Finite differences of L = Σ max(bn(x), 0) ⊙ w. A perturbation that moves an output across 0
// meets the ReLU's kink; with h = 1e-3 few do, and the error norm is taken over all elements.
void check_fused_relu_gradients(const Shape& shape) {
  const int64_t c = shape[1];
  Tensor x = random_tensor(shape, 52, -1.0f, 1.0f);
  Params p(c, 61);
  Tensor weights = random_tensor(shape, 71, -1.0f, 1.0f);
  auto forward = [&]() {
    Tensor rm = p.running_mean.clone(), rv = p.running_var.clone();
    Tensor y, mean, invstd;
    batch_norm_relu_forward_train(x, p.gamma, p.beta, rm, rv, kMomentum, kEps, y, mean, invstd);
    return y;
  };
  Tensor rm = p.running_mean.clone(), rv = p.running_var.clone();
  Tensor y, mean, invstd;
  batch_norm_relu_forward_train(x, p.gamma, p.beta, rm, rv, kMomentum, kEps, y, mean, invstd);
  Tensor dx = Tensor::full(shape, kNaN), dgamma = Tensor::full({c}, kNaN),
         dbeta = Tensor::full({c}, kNaN);
  batch_norm_relu_backward(x, y, p.gamma, mean, invstd, weights, dx, dgamma, dbeta);
  EXPECT_LT(gradient_check_error(forward, x, weights, dx, 1e-3f), 2e-2) << "dx " << shape.str();
  EXPECT_LT(gradient_check_error(forward, p.gamma, weights, dgamma, 1e-3f), 2e-2)
      << "dgamma " << shape.str();
  EXPECT_LT(gradient_check_error(forward, p.beta, weights, dbeta, 1e-3f), 2e-2)
      << "dbeta " << shape.str();
}

// Plane lengths H·W around the vector widths (8 floats on AVX2, 16 on AVX-512): shorter than
// one vector, whole vectors, and tails of every length from 1 to 7 after one to four vectors.
TEST(BatchNorm, EveryPlaneLengthAroundTheVectorWidths) {
  for (int64_t l : {2, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 25, 31, 32, 33, 36}) {
    const Shape shape{5, 3, 1, l};
    check_train_against_reference(shape, 0.3f, 1.0f, 1e-5);
    check_eval_against_reference(shape);
    check_backward_closed_form(shape);
    check_fused_relu(shape);
  }
}

TEST(BatchNormRelu, Gradients) {
  check_fused_relu_gradients({3, 5, 5, 7});
  check_fused_relu_gradients({6, 19});
}

TEST(BatchNormRelu, BitIdenticalForAnyThreadCount) {
  const Shape shape{64, 32, 6, 6};
  Tensor x = random_tensor(shape, 8), dy = random_tensor(shape, 9);
  Params p(32, 10);
  auto run = [&](int threads) {
    set_num_threads(threads);
    Tensor rm = p.running_mean.clone(), rv = p.running_var.clone();
    Tensor y, mean, invstd, dx, dgamma, dbeta;
    batch_norm_relu_forward_train(x, p.gamma, p.beta, rm, rv, kMomentum, kEps, y, mean, invstd);
    batch_norm_relu_backward(x, y, p.gamma, mean, invstd, dy, dx, dgamma, dbeta);
    std::vector<float> all = y.to_vector();
    for (const Tensor* t : {&rv, &dx, &dgamma, &dbeta}) {
      const std::vector<float> v = t->to_vector();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  const int threads = num_threads();
  const std::vector<float> one = run(1), two = run(2), three = run(3);
  set_num_threads(threads);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, three);
}

}  // namespace
}  // namespace keel
