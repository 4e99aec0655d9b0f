// Batch norm on the CPU: the running variance is the unbiased one, and the fused batch norm + ReLU
// pair reproduces the two separate ops bit for bit. The float64 references (2d, 1d, a large mean,
// plane lengths around the vector widths), finite differences and thread-count independence are
// the op-case table's (tests/op_cases/cases_batch_norm.cpp).
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
constexpr float kMomentum = 0.1f;
constexpr float kEps = 1e-5f;

// Channel-wise parameters and running statistics for `c` channels (variance kept positive).
struct Params {
  Tensor gamma, beta, running_mean, running_var;
  explicit Params(int64_t c, uint64_t seed)
      : gamma(random_tensor({c}, seed, 0.5f, 1.5f)),
        beta(random_tensor({c}, seed + 1, -0.5f, 0.5f)),
        running_mean(random_tensor({c}, seed + 2, -0.2f, 0.2f)),
        running_var(random_tensor({c}, seed + 3, 0.5f, 2.0f)) {}
};

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

// The fused passes against the separate ops (batch_norm_forward_train, relu_forward, relu_backward,
// batch_norm_backward), which they must reproduce bit for bit: the same arithmetic, only fewer
// passes.
void check_fused_relu(const Shape& shape) {
  const int64_t c = shape[1];
  Tensor x = random_tensor(shape, 31, -1.0f, 1.0f), dy = random_tensor(shape, 32, -1.0f, 1.0f);
  Params p(c, 40);
  Tensor rm = p.running_mean.clone(), rv = p.running_var.clone();
  Tensor y = Tensor::full(shape, kNaN), mean = Tensor::full({c}, kNaN),
         invstd = Tensor::full({c}, kNaN);
  batch_norm_relu_forward_train(x, p.gamma, p.beta, rm, rv, kMomentum, kEps, y, mean, invstd);
  int64_t clipped = 0;
  for (float v : y.to_vector()) clipped += v == 0.0f;
  EXPECT_GT(clipped, shape.numel() / 4) << "the ReLU should clip a good part: " << shape.str();

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
  EXPECT_EQ(mean.to_vector(), mean2.to_vector()) << shape.str();
  EXPECT_EQ(invstd.to_vector(), invstd2.to_vector()) << shape.str();
  EXPECT_EQ(rm.to_vector(), rm2.to_vector()) << shape.str();
  EXPECT_EQ(rv.to_vector(), rv2.to_vector()) << shape.str();
  EXPECT_EQ(dx.to_vector(), dx2.to_vector()) << shape.str();
  EXPECT_EQ(dgamma.to_vector(), dgamma2.to_vector()) << shape.str();
  EXPECT_EQ(dbeta.to_vector(), dbeta2.to_vector()) << shape.str();
}

TEST(BatchNormRelu, MatchesTheSeparateOpsBitForBit) {
  check_fused_relu({3, 5, 5, 7});
  check_fused_relu({64, 32, 6, 6});   // the flagship's blocks: parallel, 36-value planes
  check_fused_relu({64, 128, 3, 3});  // 9-value planes, a single masked vector each
  check_fused_relu({5, 37});          // 1d
  // Plane lengths H·W around the vector widths (8 floats on AVX2, 16 on AVX-512).
  for (int64_t l : {2, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 25, 31, 32, 33, 36}) {
    check_fused_relu({5, 3, 1, l});
  }
}

}  // namespace
}  // namespace keel
