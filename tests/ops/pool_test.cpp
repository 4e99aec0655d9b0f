// Max pooling's ties on the CPU: the first maximum of a window takes the gradient on every path,
// and the 2x2 pool's vector forms match its scalar loops bit for bit. The float64 references and
// finite differences of every pool are the op-case table's (tests/op_cases/cases_pool.cpp).
#include <cstring>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "keel/random.h"
#include "keel/runtime.h"
#include "op_cases/misc_reference.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::random_tensor;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

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

}  // namespace
}  // namespace keel
