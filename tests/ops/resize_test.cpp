// Bilinear resize with aligned corners on the CPU: forward and backward against the float64 loop
// reference for up- and downsampling, single-pixel outputs, the demo's 6x6 -> 224x224, gradients.
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "ops/misc_reference.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::gradient_check_error;
using testing::random_tensor;
using testing::relative_error;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

void check_against_reference(const Shape& in, int64_t oh, int64_t ow) {
  const int64_t planes = in[0] * in[1], h = in[2], w = in[3];
  Tensor x = random_tensor(in, 1);
  Tensor y = Tensor::full({in[0], in[1], oh, ow}, kNaN);
  resize_bilinear_forward(x, y, oh, ow);
  ASSERT_EQ(y.shape(), (Shape{in[0], in[1], oh, ow}));
  EXPECT_LT(relative_error(y.to_vector(),
                           reference::resize_bilinear(x.to_vector(), planes, h, w, oh, ow)),
            1e-6)
      << in.str() << " -> " << oh << "x" << ow;
  Tensor dy = random_tensor(y.shape(), 2), dx = Tensor::full(in, kNaN);
  resize_bilinear_backward(dy, dx, h, w);
  ASSERT_EQ(dx.shape(), in);
  // 1e-5: for 6x6 -> 224x224 each input pixel sums ~1400 float contributions.
  EXPECT_LT(relative_error(dx.to_vector(), reference::resize_bilinear_backward(
                                               dy.to_vector(), planes, h, w, oh, ow)),
            1e-5)
      << in.str() << " -> " << oh << "x" << ow;
}

TEST(ResizeBilinear, MatchesReference) {
  const Shape in{3, 5, 5, 7};
  for (auto [oh, ow] : std::vector<std::pair<int64_t, int64_t>>{
           {9, 11}, {2, 3}, {1, 1}, {1, 4}, {5, 7}, {13, 6}, {17, 29}}) {
    check_against_reference(in, oh, ow);
  }
  check_against_reference({1, 3, 1, 1}, 4, 5);      // a single input pixel
  check_against_reference({2, 3, 6, 6}, 224, 224);  // the demo's images, parallel path
}

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

TEST(ResizeBilinear, GradientCheck) {
  // Linear in x: central differences (h = 1e-2) are exact up to float rounding of L.
  for (auto [oh, ow] : std::vector<std::pair<int64_t, int64_t>>{{9, 11}, {2, 3}, {1, 4}}) {
    Tensor x = random_tensor({3, 5, 5, 7}, 4);
    Tensor w = random_tensor({3, 5, oh, ow}, 5), dx;
    resize_bilinear_backward(w, dx, 5, 7);
    auto forward = [&, oh = oh, ow = ow]() {
      Tensor out;
      resize_bilinear_forward(x, out, oh, ow);
      return out;
    };
    EXPECT_LT(gradient_check_error(forward, x, w, dx), 1e-3) << oh << "x" << ow;
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
