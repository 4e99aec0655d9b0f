// Output sizes of windowed ops, rounded down as PyTorch does, and the op layer's refusal of a
// window that leaves no output pixel (for every backend, before any of them runs).
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "keel/tensor.h"

namespace keel {
namespace {

TEST(WindowOutputSize, RoundsDownLikePyTorch) {
  EXPECT_EQ(conv_out_size(5, 3, 1, 1), 5);
  EXPECT_EQ(conv_out_size(7, 3, 2, 1), 4);
  EXPECT_EQ(conv_out_size(5, 5, 1, 0), 1);
  EXPECT_EQ(conv_out_size(5, 9, 9, 0), 0);  // truncation toward zero made this 1
  EXPECT_EQ(conv_out_size(5, 30, 1, 0), 0);
}

void expect_no_output_error(const std::function<void()>& call, const std::string& op) {
  try {
    call();
    FAIL() << op << " accepted a window that leaves no output";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(op), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no output pixel"), std::string::npos) << e.what();
  }
}

TEST(WindowOutputSize, WindowsLargerThanThePaddedInputAreRefused) {
  const Tensor x = Tensor::zeros({2, 3, 5, 5});
  Tensor y;
  expect_no_output_error([&] { max_pool2d_forward(x, y, Pool2dArgs{9, 9, 0}); }, "max_pool2d_forward");
  expect_no_output_error([&] { avg_pool2d_forward(x, y, Pool2dArgs{9, 9, 0}); }, "avg_pool2d_forward");
  const Tensor w = Tensor::zeros({4, 3, 9, 9});
  expect_no_output_error([&] { conv2d_forward(x, w, Tensor(), y, Conv2dArgs{1, 1}); }, "conv2d_forward");
}

}  // namespace
}  // namespace keel
