// The CPU's two ways of running a 3x3, stride-1, padding-1 convolution (keel::CpuConvAlgo):
// Winograd F(2x2, 3x3) and im2col + GEMM, each forced in turn against the float64 reference on
// shapes that exercise partial tiles, partial GEMM panels and channel counts off the register
// tile; finite differences through the Winograd path; bit-identical results for any thread count;
// which method the automatic choice takes; and padding that never lets a value it does not read
// reach an output.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/ops.h"
#include "keel/runtime.h"
#include "op_cases/conv_reference.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::ConvDims;
using testing::random_tensor;
using testing::relative_error;

// Restores the automatic choice and the thread count after each test.
class ConvAlgoTest : public ::testing::Test {
 protected:
  ~ConvAlgoTest() override {
    set_cpu_conv_algo(CpuConvAlgo::automatic);
    set_num_threads(threads_);
  }

 private:
  int threads_ = num_threads();
};

constexpr Conv2dArgs kSame{1, 1};

// 3x3 "same" convolutions: odd sides (tiles hanging past the plane), one pixel, channel counts
// that fill no register tile, batches whose tiles end mid-panel, and the small CNN's layer.
std::vector<ConvDims> same_shapes() {
  return {ConvDims{1, 1, 1, 1, 1, 3, 3, 1, 1},   ConvDims{2, 3, 5, 7, 5, 3, 3, 1, 1},
          ConvDims{3, 17, 6, 6, 19, 3, 3, 1, 1}, ConvDims{1, 4, 9, 2, 6, 3, 3, 1, 1},
          ConvDims{7, 16, 4, 4, 33, 3, 3, 1, 1}, ConvDims{64, 32, 6, 6, 64, 3, 3, 1, 1}};
}

std::string dims_text(const ConvDims& d) {
  return "n" + std::to_string(d.n) + " c" + std::to_string(d.c) + " " + std::to_string(d.h) + "x" +
         std::to_string(d.w) + " k" + std::to_string(d.k);
}

// As for the op-case table's convolutions: each output is a sum of at most C·9 products, and
// Winograd's transforms add a few roundings more (measured: 2-4e-7 at these shapes), far inside
// the bound.
constexpr double kTolerance = 1e-5;

void expect_matches_reference(CpuConvAlgo algo) {
  set_cpu_conv_algo(algo);
  for (const ConvDims& d : same_shapes()) {
    SCOPED_TRACE(dims_text(d));
    const Tensor x = random_tensor(d.x_shape(), 61),
                 w = random_tensor(d.w_shape(), 62, -0.5f, 0.5f);
    const Tensor b = random_tensor({d.k}, 63), dy = random_tensor(d.y_shape(), 64);
    Tensor y, dx, dw, db;
    conv2d_forward(x, w, b, y, kSame);
    conv2d_backward(x, w, dy, &dx, dw, &db, kSame);
    const auto ref_y =
        testing::conv2d_reference_forward(x.to_vector(), w.to_vector(), b.to_vector(), d);
    const auto ref =
        testing::conv2d_reference_backward(x.to_vector(), w.to_vector(), dy.to_vector(), d);
    EXPECT_LT(relative_error(y.to_vector(), ref_y), kTolerance);
    EXPECT_LT(relative_error(dx.to_vector(), ref.dx), kTolerance);
    EXPECT_LT(relative_error(dw.to_vector(), ref.dw), kTolerance);
    EXPECT_LT(relative_error(db.to_vector(), ref.db), kTolerance);
  }
}

TEST_F(ConvAlgoTest, WinogradMatchesTheReference) {
  expect_matches_reference(CpuConvAlgo::winograd);
}

TEST_F(ConvAlgoTest, Im2colMatchesTheReference) {
  expect_matches_reference(CpuConvAlgo::im2col);
}

// The two methods really differ (rounding), so the comparisons above ran two code paths.
TEST_F(ConvAlgoTest, ForcingAMethodChangesTheRounding) {
  const ConvDims d{3, 17, 6, 6, 19, 3, 3, 1, 1};
  const Tensor x = random_tensor(d.x_shape(), 65), w = random_tensor(d.w_shape(), 66);
  Tensor by_winograd, by_im2col;
  set_cpu_conv_algo(CpuConvAlgo::winograd);
  conv2d_forward(x, w, Tensor(), by_winograd, kSame);
  set_cpu_conv_algo(CpuConvAlgo::im2col);
  conv2d_forward(x, w, Tensor(), by_im2col, kSame);
  EXPECT_NE(by_winograd.to_vector(), by_im2col.to_vector());
  EXPECT_LT(relative_error(by_winograd.to_vector(), by_im2col.to_vector()), kTolerance);
}

// L = Σ y ⊙ weights is linear in x and w, so central differences are exact up to rounding.
TEST_F(ConvAlgoTest, WinogradGradientsMatchFiniteDifferences) {
  set_cpu_conv_algo(CpuConvAlgo::winograd);
  const ConvDims d{2, 3, 5, 6, 4, 3, 3, 1, 1};
  Tensor x = random_tensor(d.x_shape(), 67), w = random_tensor(d.w_shape(), 68, -0.5f, 0.5f);
  Tensor b = random_tensor({d.k}, 69);
  const Tensor weights = random_tensor(d.y_shape(), 70);
  const auto forward = [&] {
    Tensor y;
    conv2d_forward(x, w, b, y, kSame);
    return y;
  };
  Tensor dx, dw, db;
  conv2d_backward(x, w, weights, &dx, dw, &db, kSame);
  EXPECT_LT(testing::gradient_check_error(forward, x, weights, dx), 1e-3);
  EXPECT_LT(testing::gradient_check_error(forward, w, weights, dw), 1e-3);
}

// Tiles are shared between threads by whole panels, and each output's sum runs over the input
// channels in the GEMM's fixed order, so any thread count gives the same bits.
TEST_F(ConvAlgoTest, WinogradGivesIdenticalBitsForAnyThreadCount) {
  set_cpu_conv_algo(CpuConvAlgo::winograd);
  for (const ConvDims& d :
       {ConvDims{64, 32, 6, 6, 64, 3, 3, 1, 1}, ConvDims{5, 16, 13, 11, 24, 3, 3, 1, 1}}) {
    SCOPED_TRACE(dims_text(d));
    const Tensor x = random_tensor(d.x_shape(), 71), w = random_tensor(d.w_shape(), 72);
    const Tensor b = random_tensor({d.k}, 73), dy = random_tensor(d.y_shape(), 74);
    std::vector<std::vector<float>> first;
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      Tensor y, dx, dw, db;
      conv2d_forward(x, w, b, y, kSame);
      conv2d_backward(x, w, dy, &dx, dw, &db, kSame);
      const std::vector<std::vector<float>> run = {y.to_vector(), dx.to_vector()};
      if (first.empty()) first = run;
      EXPECT_EQ(run[0], first[0]) << "y with " << threads << " threads";
      EXPECT_EQ(run[1], first[1]) << "dx with " << threads << " threads";
    }
  }
}

std::vector<float> forward_with(CpuConvAlgo algo, const ConvDims& d, Conv2dArgs args) {
  set_cpu_conv_algo(algo);
  const Tensor x = random_tensor(d.x_shape(), 75), w = random_tensor(d.w_shape(), 76);
  Tensor y;
  conv2d_forward(x, w, Tensor(), y, args);
  return y.to_vector();
}

// The automatic choice: Winograd for the small CNN's 32 -> 64 layer on 6x6 planes (even sides,
// enough channels), im2col for a 7x7 plane (a quarter of the tiles' outputs dropped) and for a
// single input channel (the transforms would outweigh the products).
TEST_F(ConvAlgoTest, AutomaticTakesWinogradWhereItPays) {
  const ConvDims small_cnn{8, 32, 6, 6, 64, 3, 3, 1, 1};
  EXPECT_EQ(forward_with(CpuConvAlgo::automatic, small_cnn, kSame),
            forward_with(CpuConvAlgo::winograd, small_cnn, kSame));
  for (const ConvDims& d :
       {ConvDims{8, 32, 7, 7, 64, 3, 3, 1, 1}, ConvDims{8, 1, 6, 6, 32, 3, 3, 1, 1}}) {
    SCOPED_TRACE(dims_text(d));
    EXPECT_EQ(forward_with(CpuConvAlgo::automatic, d, kSame),
              forward_with(CpuConvAlgo::im2col, d, kSame));
  }
}

// Forcing Winograd leaves convolutions it cannot run (stride 2, 5x5, no padding) to im2col.
TEST_F(ConvAlgoTest, ForcedWinogradLeavesOtherConvolutionsAlone) {
  const ConvDims strided{2, 16, 8, 8, 16, 3, 3, 2, 1}, wide{2, 16, 8, 8, 16, 5, 5, 1, 2};
  EXPECT_EQ(forward_with(CpuConvAlgo::winograd, strided, Conv2dArgs{2, 1}),
            forward_with(CpuConvAlgo::im2col, strided, Conv2dArgs{2, 1}));
  EXPECT_EQ(forward_with(CpuConvAlgo::winograd, wide, Conv2dArgs{1, 2}),
            forward_with(CpuConvAlgo::im2col, wide, Conv2dArgs{1, 2}));
}

// A tile's padding reads an always-valid element (its image's first) and clears it; an infinite
// value there must reach only the outputs whose window covers it, as in the definition.
TEST_F(ConvAlgoTest, WinogradPaddingNeverLeaksAValueItDoesNotRead) {
  set_cpu_conv_algo(CpuConvAlgo::winograd);
  const ConvDims d{2, 16, 6, 6, 16, 3, 3, 1, 1};
  Tensor x = random_tensor(d.x_shape(), 77);
  const Tensor w = random_tensor(d.w_shape(), 78);
  for (int64_t c = 0; c < d.c; ++c) {
    x.data()[(1 * d.c + c) * d.h * d.w] = std::numeric_limits<float>::infinity();  // image 1
  }
  Tensor y;
  conv2d_forward(x, w, Tensor(), y, kSame);
  for (int64_t n = 0; n < d.n; ++n) {
    for (int64_t i = 0; i < d.h; ++i) {
      for (int64_t j = 0; j < d.w; ++j) {
        const bool covers = n == 1 && i <= 1 && j <= 1;
        const float value = y.data()[((n * d.k + 3) * d.h + i) * d.w + j];
        EXPECT_EQ(std::isfinite(value), !covers) << "image " << n << " output " << i << "," << j;
      }
    }
  }
}

}  // namespace
}  // namespace keel
