// Bilinear resize with aligned corners on the CPU: corners and a same-size resize copy exactly, and
// bad sizes are refused. The float64 references and finite differences, up and down, are the
// op-case table's (tests/op_cases/cases_pool.cpp).
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::random_tensor;

TEST(ResizeBilinear, CornersAndSameSizeAreExact) {
  Tensor x = random_tensor({3, 5, 5, 7}, 3);
  Tensor y;
  resize_bilinear_forward(x, y, 5, 7);
  EXPECT_EQ(y.to_vector(), x.to_vector());
  resize_bilinear_forward(x, y, 223, 97);
  const auto xv = x.to_vector(), yv = y.to_vector();
  for (int64_t p = 0; p < 15; ++p) {
    EXPECT_EQ(yv[p * 223 * 97], xv[p * 35]);
    EXPECT_EQ(yv[p * 223 * 97 + 96], xv[p * 35 + 6]);
    EXPECT_EQ(yv[p * 223 * 97 + 222 * 97], xv[p * 35 + 28]);
    EXPECT_EQ(yv[p * 223 * 97 + 222 * 97 + 96], xv[p * 35 + 34]);
  }
}

TEST(ResizeBilinear, ShapeErrorsThrow) {
  Tensor y, dx;
  EXPECT_THROW(resize_bilinear_forward(random_tensor({3, 35}, 6), y, 4, 4), Error);
  EXPECT_THROW(resize_bilinear_forward(random_tensor({3, 5, 5, 7}, 7), y, 0, 4), Error);
  EXPECT_THROW(resize_bilinear_backward(random_tensor({3, 5, 4, 4}, 8), dx, 5, -1), Error);
}

}  // namespace
}  // namespace keel
