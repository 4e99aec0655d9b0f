// Pooling on the CPU: max, average and adaptive pools against the float64 loop reference (awkward
// shapes, stride 2, padding 0 and 1, adaptive sizes that do not divide), gradients, shape errors.
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "keel/random.h"
#include "keel/runtime.h"
#include "ops/misc_reference.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::gradient_check_error;
using testing::random_tensor;
using testing::relative_error;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
const Shape kAwkward{3, 5, 5, 7};

// Distinct values 0.05 apart in shuffled order: a ±1e-2 finite-difference step never changes
// which element of a window is the maximum.
Tensor tie_free_tensor(const Shape& shape, uint64_t seed) {
  std::vector<float> values(static_cast<size_t>(shape.numel()));
  std::iota(values.begin(), values.end(), 0.0f);
  Generator gen(seed);
  for (size_t i = values.size(); i > 1; --i) std::swap(values[i - 1], values[gen.next_below(i)]);
  for (float& v : values) v = 0.05f * v - 0.025f * static_cast<float>(values.size());
  return Tensor::from_data(shape, values);
}

std::vector<Pool2dArgs> window_configs() {
  return {{2, 2, 0}, {3, 2, 1}, {3, 2, 0}, {3, 1, 1}, {2, 1, 1}};
}

std::string describe(const Pool2dArgs& a) {
  return "kernel " + std::to_string(a.kernel) + " stride " + std::to_string(a.stride) +
         " padding " + std::to_string(a.padding);
}

TEST(MaxPool2d, MatchesReference) {
  // Widths up to 16 take the one-vector-per-row path of the 2x2 pool (even and odd sizes), wider
  // ones the scalar loop.
  for (const Shape& shape : {kAwkward, Shape{64, 32, 6, 6}, Shape{2, 3, 5, 16}, Shape{2, 3, 4, 17}}) {
    const int64_t planes = shape[0] * shape[1], h = shape[2], w = shape[3];
    Tensor x = random_tensor(shape, 1);
    for (const Pool2dArgs& a : window_configs()) {
      const int64_t oh = reference::out_size(h, a.kernel, a.stride, a.padding);
      const int64_t ow = reference::out_size(w, a.kernel, a.stride, a.padding);
      Tensor y = Tensor::full({shape[0], shape[1], oh, ow}, kNaN);
      max_pool2d_forward(x, y, a);
      ASSERT_EQ(y.shape(), (Shape{shape[0], shape[1], oh, ow}));
      const auto ref =
          reference::max_pool2d(x.to_vector(), planes, h, w, a.kernel, a.stride, a.padding);
      EXPECT_LT(relative_error(y.to_vector(), ref), 1e-7) << describe(a);

      Tensor dy = random_tensor(y.shape(), 2), dx = Tensor::full(shape, kNaN);
      max_pool2d_backward(x, dy, dx, a);
      const auto dref = reference::max_pool2d_backward(x.to_vector(), dy.to_vector(), planes, h, w,
                                                       a.kernel, a.stride, a.padding);
      EXPECT_LT(relative_error(dx.to_vector(), dref), 1e-6) << describe(a);
    }
  }
}

TEST(MaxPool2d, FirstMaximumOfATieGetsTheGradient) {
  Tensor x = Tensor::from_data({1, 1, 2, 2}, std::vector<float>{1, 3, 3, 0});
  Tensor dy = Tensor::full({1, 1, 1, 1}, 5.0f), dx;
  max_pool2d_backward(x, dy, dx, Pool2dArgs{2, 2, 0});
  EXPECT_EQ(dx.to_vector(), (std::vector<float>{0, 5, 0, 0}));
}

TEST(MaxPool2d, TiesGoToTheFirstMaximumOnEveryPath) {
  // Plane 0 ties at positions 0 and 2, plane 1 at positions 1 and 3 (row-major).
  Tensor x = Tensor::from_data({1, 2, 2, 2}, std::vector<float>{3, 1, 3, 0, -1, 2, 0, 2});
  const std::vector<float> expected{7, 0, 0, 0, 0, 9, 0, 0};
  Tensor dy = Tensor::from_data({1, 2, 1, 1}, std::vector<float>{7, 9}), dx;
  adaptive_max_pool2d_backward(x, dy, dx);  // the global fast path
  EXPECT_EQ(dx.to_vector(), expected);
  max_pool2d_backward(x, dy, dx, Pool2dArgs{2, 2, 0});  // the 2x2 fast path
  EXPECT_EQ(dx.to_vector(), expected);
  max_pool2d_backward(x, dy, dx, Pool2dArgs{2, 1, 0});  // the generic window walk
  EXPECT_EQ(dx.to_vector(), expected);
  // A 1x2 adaptive grid takes the generic cell walk: each column pair is its own cell.
  Tensor x2 = Tensor::from_data({1, 1, 2, 2}, std::vector<float>{5, 4, 5, 4});
  Tensor dy2 = Tensor::from_data({1, 1, 1, 2}, std::vector<float>{1, 2});
  adaptive_max_pool2d_backward(x2, dy2, dx);
  EXPECT_EQ(dx.to_vector(), (std::vector<float>{1, 2, 0, 0}));
}

// Values from {-1, -0, 0, 1, 2} (-0 and 0 compare equal): most windows hold ties.
Tensor tied_tensor(const Shape& shape, uint64_t seed) {
  const float choices[] = {-1.0f, -0.0f, 0.0f, 1.0f, 2.0f};
  std::vector<float> values(static_cast<size_t>(shape.numel()));
  Generator gen(seed);
  for (float& v : values) v = choices[gen.next_below(5)];
  return Tensor::from_data(shape, values);
}

// Bit patterns, so that -0 and +0 differ.
std::vector<uint32_t> bits(const std::vector<float>& v) {
  std::vector<uint32_t> out(v.size());
  std::memcpy(out.data(), v.data(), sizeof(float) * v.size());
  return out;
}
std::vector<uint32_t> bits(const std::vector<double>& v) {
  return bits(std::vector<float>(v.begin(), v.end()));
}

// The 2x2 pool is defined bit for bit by its scalar loops: every path this CPU runs, every width
// the vector forms split differently (up to 8 values a row in one vector on AVX2, up to 16 in
// two, or one on AVX-512; wider rows in the loops), odd heights and widths, tied windows.
TEST(MaxPool2d, TwoByTwoIsExactOnEveryPathAndWidth) {
  const CpuIsa active = cpu_isa();
  for (CpuIsa isa : {CpuIsa::portable, CpuIsa::avx2, CpuIsa::avx512}) {
    if (!cpu_isa_supported(isa)) continue;
    set_cpu_isa(isa);
    for (int64_t h : {2, 5}) {
      for (int64_t w = 2; w <= 18; ++w) {
        const Shape shape{2, 3, h, w};
        const int64_t planes = 6, oh = h / 2, ow = w / 2;
        for (const Tensor& x : {tied_tensor(shape, 20 + w), random_tensor(shape, 40 + w)}) {
          Tensor y = Tensor::full({2, 3, oh, ow}, kNaN);
          max_pool2d_forward(x, y, Pool2dArgs{2, 2, 0});
          const auto xv = x.to_vector();
          EXPECT_EQ(bits(y.to_vector()), bits(reference::max_pool2d(xv, planes, h, w, 2, 2, 0)))
              << cpu_isa_name(isa) << " " << shape.str();
          Tensor dy = tied_tensor(y.shape(), 60 + w), dx = Tensor::full(shape, kNaN);
          max_pool2d_backward(x, dy, dx, Pool2dArgs{2, 2, 0});
          EXPECT_EQ(bits(dx.to_vector()),
                    bits(reference::max_pool2d_backward(xv, dy.to_vector(), planes, h, w, 2, 2, 0)))
              << cpu_isa_name(isa) << " " << shape.str();
        }
      }
    }
  }
  set_cpu_isa(active);
}

TEST(AvgPool2d, MatchesReference) {
  for (const Shape& shape : {kAwkward, Shape{64, 32, 6, 6}}) {
    const int64_t planes = shape[0] * shape[1], h = shape[2], w = shape[3];
    Tensor x = random_tensor(shape, 3);
    for (const Pool2dArgs& a : window_configs()) {
      const int64_t oh = reference::out_size(h, a.kernel, a.stride, a.padding);
      const int64_t ow = reference::out_size(w, a.kernel, a.stride, a.padding);
      Tensor y = Tensor::full({shape[0], shape[1], oh, ow}, kNaN);
      avg_pool2d_forward(x, y, a);
      const auto ref =
          reference::avg_pool2d(x.to_vector(), planes, h, w, a.kernel, a.stride, a.padding);
      EXPECT_LT(relative_error(y.to_vector(), ref), 1e-6) << describe(a);

      Tensor dy = random_tensor(y.shape(), 4), dx = Tensor::full(shape, kNaN);
      avg_pool2d_backward(dy, dx, a, h, w);
      ASSERT_EQ(dx.shape(), shape);
      const auto dref = reference::avg_pool2d_backward(dy.to_vector(), planes, h, w, a.kernel,
                                                       a.stride, a.padding);
      EXPECT_LT(relative_error(dx.to_vector(), dref), 1e-6) << describe(a);
    }
  }
}

// Output sizes: global, non-dividing, equal to the input, and larger than the input.
const std::vector<std::pair<int64_t, int64_t>> kAdaptiveSizes{{1, 1}, {2, 3}, {3, 4},
                                                              {4, 5}, {5, 7}, {6, 9}};

TEST(AdaptivePool2d, AverageMatchesReference) {
  const int64_t planes = 15, h = 5, w = 7;
  Tensor x = random_tensor(kAwkward, 5);
  for (auto [oh, ow] : kAdaptiveSizes) {
    Tensor y = Tensor::full({3, 5, oh, ow}, kNaN);
    adaptive_avg_pool2d_forward(x, y, oh, ow);
    ASSERT_EQ(y.shape(), (Shape{3, 5, oh, ow}));
    EXPECT_LT(relative_error(y.to_vector(),
                             reference::adaptive_avg_pool2d(x.to_vector(), planes, h, w, oh, ow)),
              1e-6)
        << oh << "x" << ow;
    Tensor dy = random_tensor(y.shape(), 6), dx = Tensor::full(kAwkward, kNaN);
    adaptive_avg_pool2d_backward(dy, dx, h, w);
    EXPECT_LT(relative_error(dx.to_vector(), reference::adaptive_avg_pool2d_backward(
                                                 dy.to_vector(), planes, h, w, oh, ow)),
              1e-6)
        << oh << "x" << ow;
  }
}

TEST(AdaptivePool2d, MaxMatchesReference) {
  const int64_t planes = 15, h = 5, w = 7;
  Tensor x = random_tensor(kAwkward, 7);
  for (auto [oh, ow] : kAdaptiveSizes) {
    Tensor y = Tensor::full({3, 5, oh, ow}, kNaN);
    adaptive_max_pool2d_forward(x, y, oh, ow);
    EXPECT_LT(relative_error(y.to_vector(),
                             reference::adaptive_max_pool2d(x.to_vector(), planes, h, w, oh, ow)),
              1e-7)
        << oh << "x" << ow;
    Tensor dy = random_tensor(y.shape(), 8), dx = Tensor::full(kAwkward, kNaN);
    adaptive_max_pool2d_backward(x, dy, dx);
    EXPECT_LT(
        relative_error(dx.to_vector(), reference::adaptive_max_pool2d_backward(
                                           x.to_vector(), dy.to_vector(), planes, h, w, oh, ow)),
        1e-6)
        << oh << "x" << ow;
  }
}

TEST(AdaptivePool2d, GlobalPoolOfTheFlagshipHead) {
  // (64, 128, 3, 3) -> (64, 128, 1, 1), the concat-pool head's shape, on the parallel path.
  Tensor x = random_tensor({64, 128, 3, 3}, 9);
  Tensor avg = Tensor::full({64, 128, 1, 1}, kNaN), max = Tensor::full({64, 128, 1, 1}, kNaN);
  adaptive_avg_pool2d_forward(x, avg, 1, 1);
  adaptive_max_pool2d_forward(x, max, 1, 1);
  EXPECT_LT(relative_error(avg.to_vector(),
                           reference::adaptive_avg_pool2d(x.to_vector(), 64 * 128, 3, 3, 1, 1)),
            1e-6);
  EXPECT_LT(relative_error(max.to_vector(),
                           reference::adaptive_max_pool2d(x.to_vector(), 64 * 128, 3, 3, 1, 1)),
            1e-7);
}

// Gradients of L = Σ y ⊙ w by central differences (h = 1e-2). Pools are piecewise linear, so
// away from ties the differences are exact up to float rounding of L.
TEST(Pool2d, GradientChecks) {
  Tensor x = tie_free_tensor(kAwkward, 10);
  for (const Pool2dArgs& a : window_configs()) {
    Tensor y;
    max_pool2d_forward(x, y, a);
    Tensor w = random_tensor(y.shape(), 11), dx;
    max_pool2d_backward(x, w, dx, a);
    auto fmax = [&]() {
      Tensor out;
      max_pool2d_forward(x, out, a);
      return out;
    };
    EXPECT_LT(gradient_check_error(fmax, x, w, dx), 1e-3) << "max " << describe(a);

    avg_pool2d_forward(x, y, a);
    avg_pool2d_backward(w, dx, a, 5, 7);
    auto favg = [&]() {
      Tensor out;
      avg_pool2d_forward(x, out, a);
      return out;
    };
    EXPECT_LT(gradient_check_error(favg, x, w, dx), 1e-3) << "avg " << describe(a);
  }
  for (auto [oh, ow] : kAdaptiveSizes) {
    Tensor y;
    adaptive_max_pool2d_forward(x, y, oh, ow);
    Tensor w = random_tensor(y.shape(), 12), dx;
    adaptive_max_pool2d_backward(x, w, dx);
    auto fmax = [&, oh = oh, ow = ow]() {
      Tensor out;
      adaptive_max_pool2d_forward(x, out, oh, ow);
      return out;
    };
    EXPECT_LT(gradient_check_error(fmax, x, w, dx), 1e-3) << "adaptive max " << oh << "x" << ow;

    adaptive_avg_pool2d_backward(w, dx, 5, 7);
    auto favg = [&, oh = oh, ow = ow]() {
      Tensor out;
      adaptive_avg_pool2d_forward(x, out, oh, ow);
      return out;
    };
    EXPECT_LT(gradient_check_error(favg, x, w, dx), 1e-3) << "adaptive avg " << oh << "x" << ow;
  }
}

}  // namespace
}  // namespace keel
