// Finite-difference gradient checks through whole layers (input and every parameter) on awkward
// shapes: batch 3, 5×7 images, odd channel counts, padding 0 and 1, stride 1 and 2.
#include <algorithm>
#include <functional>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "keel/nn.h"
#include "keel/random.h"
#include "keel/runtime.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::gradient_check_error;
using testing::random_tensor;

struct GradErrors {
  double input = 0.0;
  std::vector<std::pair<std::string, double>> params;  // name -> relative error
};

// Relative errors of the input gradient and of every parameter gradient of `m` at input x, for
// L = Σ y ⊙ w with random w. `before_forward` runs before every forward (dropout's generator).
GradErrors grad_errors(nn::Module& m, Tensor& x, uint64_t seed, float h,
                       const std::function<void()>& before_forward = {}) {
  auto forward = [&]() -> Tensor {
    if (before_forward) before_forward();
    return m.forward(x);
  };
  const Shape y_shape = forward().shape();
  const Tensor w = random_tensor(y_shape, seed);
  const Tensor dx = m.backward(w).clone();
  // Every backward overwrites the parameter gradients: keep copies before perturbing anything.
  std::vector<std::pair<std::string, nn::Parameter*>> params;
  m.visit_parameters("", [&](const std::string& name, nn::Parameter& p) {
    params.push_back({name, &p});
  });
  std::vector<Tensor> grads;
  for (auto& entry : params) grads.push_back(entry.second->grad.clone());

  GradErrors out;
  out.input = gradient_check_error(forward, x, w, dx, h);
  for (size_t i = 0; i < params.size(); ++i) {
    out.params.push_back(
        {params[i].first, gradient_check_error(forward, params[i].second->value, w, grads[i], h)});
  }
  return out;
}

// Asserts that every gradient of `m` matches finite differences within `tolerance`; returns the
// number of parameter tensors checked.
size_t expect_grads(nn::Module& m, Tensor& x, uint64_t seed, double tolerance, float h = 1e-2f,
                    const std::function<void()>& before_forward = {}) {
  const GradErrors e = grad_errors(m, x, seed, h, before_forward);
  EXPECT_LT(e.input, tolerance) << m.describe() << ": input gradient";
  for (const auto& [name, err] : e.params) {
    EXPECT_LT(err, tolerance) << m.describe() << ": gradient of " << name;
  }
  return e.params.size();
}

// Distinct values spaced `spacing` apart in random order: max pools then have no near-ties that a
// finite-difference step of h < spacing / 2 could flip.
Tensor distinct_tensor(const Shape& shape, uint64_t seed, float spacing = 0.05f) {
  std::vector<float> v(static_cast<size_t>(shape.numel()));
  std::iota(v.begin(), v.end(), 0.0f);
  Generator gen(seed);
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[gen.next_below(i)]);
  const float mid = static_cast<float>(v.size()) / 2.0f;
  for (float& x : v) x = (x - mid) * spacing;
  return Tensor::from_data(shape, v);
}

// Values with |x| in [0.1, 1): ReLU has no kink within a finite-difference step of them.
Tensor away_from_zero(const Shape& shape, uint64_t seed) {
  std::vector<float> v = random_tensor(shape, seed, 0.1f, 1.0f).to_vector();
  Generator gen(seed + 1);
  for (float& x : v) x = gen.next_below(2) ? x : -x;
  return Tensor::from_data(shape, v);
}

// Float32 forward passes, central differences with h = 1e-2 and sums accumulated in double: the
// truncation error is O(h²) (zero for piecewise-linear layers) and float rounding of L adds about
// 1e-7 · |L| / h. Measured errors are 1e-6 to 5e-5 (2e-4 for the global average pool, whose
// gradient entries are all small); 5e-4 leaves a margin without hiding a wrong formula, which
// gives errors of order 1.
constexpr double kSmoothTol = 5e-4;

// Thousands of forward passes on tiny tensors: one thread avoids paying thread wake-ups for each.
class LayerGradients : public ::testing::Test {
 protected:
  void SetUp() override { set_num_threads(1); }
  void TearDown() override { set_num_threads(0); }
};

TEST_F(LayerGradients, Conv2dPaddingStrideAndBias) {
  Generator gen(1);
  struct Case {
    int kernel, stride, padding;
    bool bias;
  };
  for (Case c : {Case{3, 1, 0, true}, Case{3, 1, 1, true}, Case{3, 2, 1, false},
                 Case{1, 2, 0, true}, Case{2, 2, 1, true}}) {
    nn::Conv2d conv(gen, 3, 5, c.kernel, c.stride, c.padding, c.bias);
    Tensor x = random_tensor({3, 3, 5, 7}, 11);
    const size_t checked = expect_grads(conv, x, 12, kSmoothTol);
    EXPECT_EQ(checked, c.bias ? 2u : 1u);
  }
}

TEST_F(LayerGradients, Linear) {
  Generator gen(2);
  nn::Linear with_bias(gen, 7, 5);
  Tensor x = random_tensor({3, 7}, 21);
  EXPECT_EQ(expect_grads(with_bias, x, 22, kSmoothTol), 2u);
  nn::Linear no_bias(gen, 7, 3, false);
  EXPECT_EQ(expect_grads(no_bias, x, 23, kSmoothTol), 1u);
}

TEST_F(LayerGradients, BatchNorm2dAnd1dInTraining) {
  nn::BatchNorm2d bn2(5);
  // Non-trivial gamma and beta so their gradients and the scale both matter.
  bn2.weight().value.copy_from(random_tensor({5}, 31, 0.5f, 1.5f));
  bn2.bias().value.copy_from(random_tensor({5}, 32));
  Tensor x2 = random_tensor({3, 5, 5, 7}, 33);
  EXPECT_EQ(expect_grads(bn2, x2, 34, kSmoothTol), 2u);

  nn::BatchNorm1d bn1(5);
  bn1.weight().value.copy_from(random_tensor({5}, 35, 0.5f, 1.5f));
  bn1.bias().value.copy_from(random_tensor({5}, 36));
  Tensor x1 = random_tensor({6, 5}, 37);
  EXPECT_EQ(expect_grads(bn1, x1, 38, kSmoothTol), 2u);
}

TEST_F(LayerGradients, Pools) {
  Tensor x = distinct_tensor({3, 5, 5, 7}, 41);
  nn::MaxPool2d max_a(3, 2, 1), max_b(2), max_c(3, 1, 0);
  expect_grads(max_a, x, 42, kSmoothTol);
  expect_grads(max_b, x, 43, kSmoothTol);
  expect_grads(max_c, x, 44, kSmoothTol);
  nn::AvgPool2d avg_a(3, 2, 1), avg_b(2);
  expect_grads(avg_a, x, 45, kSmoothTol);
  expect_grads(avg_b, x, 46, kSmoothTol);
  nn::AdaptiveAvgPool2d aavg(2, 3), aavg1(1);
  expect_grads(aavg, x, 47, kSmoothTol);
  expect_grads(aavg1, x, 48, kSmoothTol);
  nn::AdaptiveMaxPool2d amax(2, 3), amax1(1);
  expect_grads(amax, x, 49, kSmoothTol);
  expect_grads(amax1, x, 50, kSmoothTol);
}

TEST_F(LayerGradients, AdaptiveConcatPool2d) {
  Tensor x = distinct_tensor({3, 5, 5, 7}, 51);
  nn::AdaptiveConcatPool2d pool1(1);
  EXPECT_EQ(pool1.forward(x).shape(), (Shape{3, 10, 1, 1}));
  expect_grads(pool1, x, 52, kSmoothTol);
  nn::AdaptiveConcatPool2d pool2(2);
  EXPECT_EQ(pool2.forward(x).shape(), (Shape{3, 10, 2, 2}));
  expect_grads(pool2, x, 53, kSmoothTol);
}

TEST_F(LayerGradients, ReLUDropoutFlatten) {
  Tensor x = away_from_zero({3, 5, 5, 7}, 61);
  nn::ReLU relu;
  expect_grads(relu, x, 62, kSmoothTol);

  nn::Dropout dropout(0.3f);
  Generator gen(63);
  dropout.set_generator(&gen);
  // The same mask on every forward: reset the generator before each.
  expect_grads(dropout, x, 64, kSmoothTol, 1e-2f, [&] { gen.set_state(63, 0); });

  nn::Flatten flatten;
  EXPECT_EQ(flatten.forward(x).shape(), (Shape{3, 175}));
  expect_grads(flatten, x, 65, kSmoothTol);
}

// ReLU inside a block has kinks: a pre-activation within h of zero makes the central difference
// of the elements feeding it wrong by up to the full local slope. h = 1e-3 makes that rare at the
// price of ten times the float rounding noise. Measured: up to 9e-4; tolerance 5e-3.
constexpr double kKinkTol = 5e-3;

TEST_F(LayerGradients, BasicBlockWithDownsample) {
  Generator gen(71);
  nn::BasicBlock block(gen, 3, 5, 2);
  ASSERT_TRUE(block.has_downsample());
  Tensor x = random_tensor({3, 3, 5, 7}, 72);
  EXPECT_EQ(block.forward(x).shape(), (Shape{3, 5, 3, 4}));
  // conv1, bn1 (2), conv2, bn2 (2), downsample conv, downsample bn (2): 9 tensors.
  EXPECT_EQ(expect_grads(block, x, 73, kKinkTol, 1e-3f), 9u);
}

TEST_F(LayerGradients, BasicBlockIdentityShortcut) {
  Generator gen(81);
  nn::BasicBlock block(gen, 5, 5, 1);
  ASSERT_FALSE(block.has_downsample());
  Tensor x = random_tensor({3, 5, 5, 7}, 82);
  EXPECT_EQ(block.forward(x).shape(), (Shape{3, 5, 5, 7}));
  EXPECT_EQ(expect_grads(block, x, 83, kKinkTol, 1e-3f), 6u);
}

TEST_F(LayerGradients, SmallSequential) {
  Generator gen(91);
  nn::Sequential net;
  // No bias before batch norm: BN removes it, so its true gradient is 0 and a relative check of
  // noise against noise would be meaningless.
  net.emplace<nn::Conv2d>(gen, 3, 5, 3, 1, 1, false);
  net.emplace<nn::BatchNorm2d>(5);
  net.emplace<nn::ReLU>(true);
  net.emplace<nn::MaxPool2d>(2);
  net.emplace<nn::Conv2d>(gen, 5, 7, 3, 1, 1, false);
  net.emplace<nn::AdaptiveConcatPool2d>(1);
  net.emplace<nn::Flatten>();
  net.emplace<nn::BatchNorm1d>(14);
  net.emplace<nn::Linear>(gen, 14, 3);
  Tensor x = random_tensor({3, 3, 5, 7}, 92);
  EXPECT_EQ(net.forward(x).shape(), (Shape{3, 3}));
  EXPECT_EQ(expect_grads(net, x, 93, kKinkTol, 1e-3f), 8u);
}

// Sequential runs a BatchNorm directly followed by a ReLU as one fused layer; the outputs, input
// gradient, parameter gradients and running statistics must equal those of the layers called one
// by one, in training and in evaluation mode.
TEST_F(LayerGradients, SequentialFusesBatchNormReluExactly) {
  auto build = [](nn::Sequential& net, Generator& gen) {
    net.emplace<nn::Conv2d>(gen, 3, 6, 3, 1, 1);
    net.emplace<nn::BatchNorm2d>(6);
    net.emplace<nn::ReLU>();
    net.emplace<nn::Conv2d>(gen, 6, 5, 3, 1, 1);
    net.emplace<nn::BatchNorm2d>(5);
    net.emplace<nn::ReLU>(true);
    net.emplace<nn::Flatten>();
    net.emplace<nn::Linear>(gen, 5 * 5 * 7, 4);
    net.emplace<nn::BatchNorm1d>(4);
    net.emplace<nn::ReLU>();
  };
  Generator gen_a(111), gen_b(111);
  nn::Sequential fused, plain;
  build(fused, gen_a);
  build(plain, gen_b);
  Tensor x = random_tensor({8, 3, 5, 7}, 112), dy = random_tensor({8, 4}, 113);
  for (int step = 0; step < 2; ++step) {
    const std::vector<float> y = fused.forward(x).to_vector();
    const Tensor dx = fused.backward(dy);
    const Tensor* h = &x;
    for (size_t i = 0; i < plain.size(); ++i) h = &plain[i].forward(*h);
    EXPECT_EQ(y, h->to_vector());
    const Tensor* g = &dy;
    for (size_t i = plain.size(); i-- > 0;) g = &plain[i].backward(*g);
    EXPECT_EQ(dx.to_vector(), g->to_vector());
    const std::vector<nn::Parameter*> pf = fused.parameters(), pp = plain.parameters();
    ASSERT_EQ(pf.size(), pp.size());
    for (size_t i = 0; i < pf.size(); ++i) EXPECT_EQ(pf[i]->grad.to_vector(), pp[i]->grad.to_vector());
  }
  std::vector<std::vector<float>> bf, bp;
  fused.visit_buffers("", [&](const std::string&, Tensor& b) { bf.push_back(b.to_vector()); });
  plain.visit_buffers("", [&](const std::string&, Tensor& b) { bp.push_back(b.to_vector()); });
  EXPECT_EQ(bf, bp);
  fused.set_training(false);
  plain.set_training(false);
  const std::vector<float> eval = fused.forward(x).to_vector();
  const Tensor* h = &x;
  for (size_t i = 0; i < plain.size(); ++i) h = &plain[i].forward(*h);
  EXPECT_EQ(eval, h->to_vector());
}

// The input gradient is skipped (and reported undefined) when input_grad is off, while the
// parameter gradients stay the same.
TEST_F(LayerGradients, InputGradOffKeepsParameterGradients) {
  Generator gen(101);
  nn::Sequential net;
  net.emplace<nn::Conv2d>(gen, 3, 4, 3, 1, 1);
  net.emplace<nn::ReLU>();
  net.emplace<nn::Flatten>();
  net.emplace<nn::Linear>(gen, 4 * 5 * 7, 2);
  Tensor x = random_tensor({3, 3, 5, 7}, 102);
  Tensor dy = random_tensor({3, 2}, 103);
  net.forward(x);
  EXPECT_TRUE(net.backward(dy).defined());
  std::vector<std::vector<float>> with;
  for (nn::Parameter* p : net.parameters()) with.push_back(p->grad.to_vector());
  net.set_input_grad(false);
  net.forward(x);
  EXPECT_FALSE(net.backward(dy).defined());
  size_t i = 0;
  for (nn::Parameter* p : net.parameters()) EXPECT_EQ(p->grad.to_vector(), with[i++]);

  nn::BasicBlock block(gen, 3, 4, 2);
  block.forward(x);
  Tensor dyb = random_tensor(block.forward(x).shape(), 104);
  EXPECT_TRUE(block.backward(dyb).defined());
  std::vector<std::vector<float>> block_with;
  for (nn::Parameter* p : block.parameters()) block_with.push_back(p->grad.to_vector());
  block.set_input_grad(false);
  block.forward(x);
  EXPECT_FALSE(block.backward(dyb).defined());
  i = 0;
  for (nn::Parameter* p : block.parameters()) EXPECT_EQ(p->grad.to_vector(), block_with[i++]);
}

}  // namespace
}  // namespace keel
