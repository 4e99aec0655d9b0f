// The op layer's shape checks (engine/src/op_shapes.cpp): every case of the shared table is refused
// with a message that starts with its op's name, and the edge cases that fit (an empty batch, an
// adaptive output larger than its input, padding of exactly half the window) pass and compute.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "keel/error.h"
#include "keel/ops.h"
#include "support/op_shape_cases.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::random_tensor;

TEST(OpShapes, EveryCaseIsRefusedNamingItsOp) {
  ASSERT_GE(testing::op_shape_cases().size(), 65u);
  for (const testing::OpShapeCase& c : testing::op_shape_cases()) {
    try {
      c.run(Device::cpu);
      ADD_FAILURE() << c.op << " accepted " << c.what;
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(c.op + ": ", 0), 0u) << c.what << ": " << message;
    }
  }
}

TEST(OpShapes, AMismatchNamesBothShapes) {
  Tensor y;
  try {
    conv2d_forward(random_tensor({2, 4, 5, 5}, 1), random_tensor({4, 3, 3, 3}, 2), Tensor(), y, {});
    ADD_FAILURE() << "conv2d_forward accepted 4 input channels for a 3-channel filter";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("(4, 3, 3, 3)"), std::string::npos) << message;
    EXPECT_NE(message.find("(2, 4, 5, 5)"), std::string::npos) << message;
  }
}

TEST(OpShapes, AnEmptyBatchConvolvesToEmptyOutputsAndZeroWeightGradients) {
  const Tensor x = Tensor::zeros({0, 3, 5, 5}), w = random_tensor({4, 3, 3, 3}, 1);
  const Tensor b = random_tensor({4}, 2);
  Tensor y;
  conv2d_forward(x, w, b, y, Conv2dArgs{1, 1});
  EXPECT_EQ(y.shape(), (Shape{0, 4, 5, 5}));
  Tensor dx, dw = Tensor::full({4, 3, 3, 3}, 7.0f), db = Tensor::full({4}, 7.0f);
  conv2d_backward(x, w, Tensor::zeros({0, 4, 5, 5}), &dx, dw, &db, Conv2dArgs{1, 1});
  EXPECT_EQ(dx.shape(), x.shape());
  for (float v : dw.to_vector()) EXPECT_EQ(v, 0.0f);
  for (float v : db.to_vector()) EXPECT_EQ(v, 0.0f);
}

TEST(OpShapes, AnEmptyBatchThroughLinearGivesZeroWeightGradients) {
  const Tensor x = Tensor::zeros({0, 6}), w = random_tensor({3, 6}, 3);
  Tensor y;
  linear_forward(x, w, random_tensor({3}, 4), y);
  EXPECT_EQ(y.shape(), (Shape{0, 3}));
  Tensor dx, dw = Tensor::full({3, 6}, 7.0f), db = Tensor::full({3}, 7.0f);
  linear_backward(x, w, Tensor::zeros({0, 3}), &dx, dw, &db);
  EXPECT_EQ(dx.shape(), x.shape());
  for (float v : dw.to_vector()) EXPECT_EQ(v, 0.0f);
  for (float v : db.to_vector()) EXPECT_EQ(v, 0.0f);
}

TEST(OpShapes, AdaptiveOutputsLargerThanTheInputRepeatInputCells) {
  // A 2x2 plane pooled to 4x4: every output cell covers exactly one input pixel.
  const Tensor x = Tensor::from_data(Shape{1, 1, 2, 2}, std::vector<float>{1, 2, 3, 4});
  Tensor avg, max;
  adaptive_avg_pool2d_forward(x, avg, 4, 4);
  adaptive_max_pool2d_forward(x, max, 4, 4);
  const std::vector<float> expected{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
  EXPECT_EQ(avg.to_vector(), expected);
  EXPECT_EQ(max.to_vector(), expected);
}

TEST(OpShapes, PaddingOfHalfTheWindowIsAllowed) {
  Tensor y;
  max_pool2d_forward(random_tensor({1, 2, 4, 4}, 5), y, Pool2dArgs{2, 2, 1});
  EXPECT_EQ(y.shape(), (Shape{1, 2, 3, 3}));
}

}  // namespace
}  // namespace keel
