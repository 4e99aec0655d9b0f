// Layers at a reduced precision (nn::Module::set_precision): a convolution or linear layer gives
// exactly the float32 op applied to its input, weight and output gradient rounded to fp16 or bf16,
// its parameters stay float32, fp32 changes nothing, and a container passes the setting down.
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "keel/nn/activation.h"
#include "keel/nn/conv.h"
#include "keel/nn/linear.h"
#include "keel/nn/sequential.h"
#include "keel/ops.h"
#include "keel/random.h"
#include "support/test_util.h"

namespace keel {
namespace {

Tensor rounded(const Tensor& x, Precision p) {
  Tensor y;
  round_to_precision(x, p, y);
  return y;
}

class ReducedPrecisionConv : public ::testing::TestWithParam<Precision> {};

TEST_P(ReducedPrecisionConv, IsTheFloatOpOnRoundedOperands) {
  const Precision p = GetParam();
  Generator gen(11);
  nn::Conv2d conv(gen, 3, 5, 3, 1, 1);
  const std::vector<float> weight_before = conv.weight().value.to_vector();
  conv.set_precision(p);
  const Tensor x = testing::random_tensor(Shape{2, 3, 6, 6}, 12, -3.0f, 3.0f);
  const Tensor dy = testing::random_tensor(Shape{2, 5, 6, 6}, 13);
  const Tensor y = conv.forward(x).clone();
  const Tensor dx = conv.backward(dy).clone();

  const Tensor xr = rounded(x, p), wr = rounded(conv.weight().value, p), dyr = rounded(dy, p);
  Tensor y_ref, dx_ref, dw_ref, db_ref;
  conv2d_forward(xr, wr, conv.bias()->value, y_ref, conv.args());
  conv2d_backward(xr, wr, dyr, &dx_ref, dw_ref, &db_ref, conv.args());
  EXPECT_EQ(y.to_vector(), y_ref.to_vector());
  EXPECT_EQ(dx.to_vector(), dx_ref.to_vector());
  EXPECT_EQ(conv.weight().grad.to_vector(), dw_ref.to_vector());
  EXPECT_EQ(conv.bias()->grad.to_vector(), db_ref.to_vector());
  EXPECT_EQ(conv.weight().value.to_vector(), weight_before) << "master weights stay float32";

  // The rounding is real: the plain float32 layer gives other values.
  Tensor y_fp32;
  conv2d_forward(x, conv.weight().value, conv.bias()->value, y_fp32, conv.args());
  EXPECT_NE(y.to_vector(), y_fp32.to_vector());
}

TEST_P(ReducedPrecisionConv, LinearIsTheFloatOpOnRoundedOperands) {
  const Precision p = GetParam();
  Generator gen(14);
  nn::Linear linear(gen, 40, 7);
  linear.set_precision(p);
  const Tensor x = testing::random_tensor(Shape{9, 40}, 15, -3.0f, 3.0f);
  const Tensor dy = testing::random_tensor(Shape{9, 7}, 16);
  const Tensor y = linear.forward(x).clone();
  const Tensor dx = linear.backward(dy).clone();

  const Tensor xr = rounded(x, p), wr = rounded(linear.weight().value, p), dyr = rounded(dy, p);
  Tensor y_ref, dx_ref, dw_ref, db_ref;
  linear_forward(xr, wr, linear.bias()->value, y_ref);
  linear_backward(xr, wr, dyr, &dx_ref, dw_ref, &db_ref);
  EXPECT_EQ(y.to_vector(), y_ref.to_vector());
  EXPECT_EQ(dx.to_vector(), dx_ref.to_vector());
  EXPECT_EQ(linear.weight().grad.to_vector(), dw_ref.to_vector());
  EXPECT_EQ(linear.bias()->grad.to_vector(), db_ref.to_vector());
  Tensor y_fp32;
  linear_forward(x, linear.weight().value, linear.bias()->value, y_fp32);
  EXPECT_NE(y.to_vector(), y_fp32.to_vector());
}

INSTANTIATE_TEST_SUITE_P(Formats, ReducedPrecisionConv,
                         ::testing::Values(Precision::fp16, Precision::bf16),
                         [](const auto& info) { return std::string(precision_name(info.param)); });

TEST(ReducedPrecision, Fp32IsThePlainLayer) {
  Generator gen_a(17), gen_b(17);
  nn::Linear plain(gen_a, 12, 3), set(gen_b, 12, 3);
  set.set_precision(Precision::fp32);
  const Tensor x = testing::random_tensor(Shape{4, 12}, 18);
  EXPECT_EQ(plain.forward(x).to_vector(), set.forward(x).to_vector());
}

TEST(ReducedPrecision, ContainersPassItDown) {
  Generator gen(19);
  nn::Sequential model;
  model.emplace<nn::Linear>(gen, 8, 8);
  model.emplace<nn::ReLU>();
  auto* last = &model.emplace<nn::Linear>(gen, 8, 2);
  model.set_precision(Precision::bf16);
  EXPECT_EQ(model.precision(), Precision::bf16);
  EXPECT_EQ(last->precision(), Precision::bf16);
}

}  // namespace
}  // namespace keel
