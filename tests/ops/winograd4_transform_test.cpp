// The Winograd F(4x4, 3x3) convolution of the CUDA backend, run on the CPU: the per-thread bodies
// of engine/src/cuda/kernels/winograd4_transforms.h (the exact code the kernels call) driven by
// plain loops in the order engine/src/cuda/conv.cpp launches them, with a plain loop in place of
// the batched SGEMM, against the float64 direct convolution, forward and backward data. Bound: 3e-5
// of the largest reference magnitude for the largest error of any element (F(4x4)'s constants up to
// 8 cost more than F(2x2)'s 1e-6: the worst seen here is 1e-5, at 128 channels on 28x28; each test
// prints its own).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "op_cases/conv_reference.h"
#include "ops/winograd_test_util.h"
#include "support/test_util.h"
#include "winograd4_transforms.h"

namespace keel {
namespace {

namespace wg4 = keel::winograd4;
using testing::ConvDims;

constexpr double kTol = 3e-5;
constexpr float kPoison = testing::kWinogradPoison;
using testing::batched_gemm;
using testing::max_relative_error;
using testing::random_values;

int64_t tiles_of(int64_t images, int64_t h, int64_t w) {
  return images * wg4::tiles_along(h) * wg4::tiles_along(w);
}

// winograd4_apply of conv.cpp, `chunk` images at a time: src (n, cin, h, w), w -> dst (n, cout, h, w).
std::vector<float> winograd4_conv(const std::vector<float>& x, const std::vector<float>& w, const float* bias,
                                  int64_t n, int64_t cin, int64_t cout, int64_t h, int64_t wd, bool flip,
                                  int64_t chunk) {
  std::vector<float> u(static_cast<size_t>(wg4::kPoints * cout * cin), kPoison);
  for (int64_t ko = 0; ko < cout; ++ko)
    for (int64_t ci = 0; ci < cin; ++ci) wg4::filter_transform_at(w.data(), cout, cin, flip, ko, ci, u.data());
  std::vector<float> y(static_cast<size_t>(n * cout * h * wd), kPoison);
  for (int64_t n0 = 0; n0 < n; n0 += chunk) {
    const int64_t images = std::min(chunk, n - n0);
    const int64_t tiles = tiles_of(images, h, wd);
    std::vector<float> v(static_cast<size_t>(wg4::kPoints * cin * tiles), kPoison);
    std::vector<float> m(static_cast<size_t>(wg4::kPoints * cout * tiles), kPoison);
    for (int64_t ch = 0; ch < cin; ++ch)
      for (int64_t t = 0; t < tiles; ++t)
        wg4::input_transform_at(x.data() + n0 * cin * h * wd, cin, h, wd, tiles, ch, t, v.data());
    batched_gemm(false, cout, tiles, cin, u.data(), cout * cin, v.data(), cin * tiles, 0.0f, m.data(),
                 cout * tiles, wg4::kPoints);
    for (int64_t k = 0; k < cout; ++k)
      for (int64_t t = 0; t < tiles; ++t)
        wg4::output_transform_at(m.data(), cout, h, wd, tiles, bias, k, t, y.data() + n0 * cout * h * wd);
  }
  return y;
}

struct Case {
  int64_t n, c, k, h, w;
  int64_t chunk;
};

class Winograd4Transform : public ::testing::TestWithParam<Case> {};

TEST_P(Winograd4Transform, ForwardMatchesDirectConvolution) {
  const Case p = GetParam();
  const ConvDims d{p.n, p.c, p.h, p.w, p.k, 3, 3, 1, 1};
  const std::vector<float> x = random_values(static_cast<size_t>(p.n * p.c * p.h * p.w), 1);
  const std::vector<float> w = random_values(static_cast<size_t>(p.k * p.c * 9), 2);
  const std::vector<float> b = random_values(static_cast<size_t>(p.k), 3);
  const double err = max_relative_error(winograd4_conv(x, w, b.data(), p.n, p.c, p.k, p.h, p.w, false, p.chunk),
                                        testing::conv2d_reference_forward(x, w, b, d));
  EXPECT_LE(err, kTol);
  const double err_nobias = max_relative_error(
      winograd4_conv(x, w, nullptr, p.n, p.c, p.k, p.h, p.w, false, p.chunk),
      testing::conv2d_reference_forward(x, w, {}, d));
  EXPECT_LE(err_nobias, kTol);
  std::printf("forward max relative error %.3g\n", std::max(err, err_nobias));
}

TEST_P(Winograd4Transform, BackwardDataMatchesDirectConvolution) {
  const Case p = GetParam();
  const ConvDims d{p.n, p.c, p.h, p.w, p.k, 3, 3, 1, 1};
  const std::vector<float> x = random_values(static_cast<size_t>(p.n * p.c * p.h * p.w), 4);
  const std::vector<float> w = random_values(static_cast<size_t>(p.k * p.c * 9), 5);
  const std::vector<float> dy = random_values(static_cast<size_t>(p.n * p.k * p.h * p.w), 6);
  const testing::ConvGradients ref = testing::conv2d_reference_backward(x, w, dy, d);
  // dx is the convolution of dy (n, K, h, w) into C channels by the turned, channel-swapped filter.
  const double err =
      max_relative_error(winograd4_conv(dy, w, nullptr, p.n, p.k, p.c, p.h, p.w, true, p.chunk), ref.dx);
  EXPECT_LE(err, kTol);
  std::printf("backward data max relative error %.3g\n", err);
}

INSTANTIATE_TEST_SUITE_P(
    AwkwardShapes, Winograd4Transform,
    ::testing::Values(Case{3, 5, 7, 5, 7, 3},      // odd plane: partial tiles at the right and bottom
                      Case{3, 5, 7, 5, 7, 2},      // two chunks (2 + 1 images)
                      Case{2, 3, 4, 9, 9, 1},      // one image per chunk, odd square plane
                      Case{3, 7, 5, 13, 11, 2},    // 13x11: three partial tile sizes
                      Case{1, 16, 9, 7, 7, 1},     // late-layer 7x7 plane
                      Case{2, 4, 3, 1, 1, 2},      // 1x1 plane: every tap but the centre is padding
                      Case{2, 3, 2, 4, 8, 2},      // whole tiles only
                      Case{1, 64, 6, 56, 56, 1},   // ResNet's first stage: 64 channels, 56x56
                      Case{1, 128, 4, 28, 28, 1}), // ResNet's second stage: the longest fp32 sums here
    [](const ::testing::TestParamInfo<Case>& info) {
      const Case& p = info.param;
      return "n" + std::to_string(p.n) + "c" + std::to_string(p.c) + "k" + std::to_string(p.k) + "_" +
             std::to_string(p.h) + "x" + std::to_string(p.w) + "_chunk" + std::to_string(p.chunk);
    });

// The one-tile transforms against the matrices written out in float64: G g Gᵀ, Bᵀ d B and Aᵀ m A.
TEST(Winograd4Transform, TileTransformsMatchTheMatrices) {
  const double bt[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                           {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  const double g[6][3] = {{0.25, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                          {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
  const double at[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
  const std::vector<float> f = random_values(9, 20), d = random_values(36, 21), m = random_values(36, 22);
  float u[36], v[36], y[16];
  wg4::filter_transform(f.data(), u);
  wg4::input_transform(d.data(), v);
  wg4::output_transform(m.data(), y);
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) {
      double ue = 0.0, ve = 0.0;
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) ue += g[i][a] * f[static_cast<size_t>(3 * a + b)] * g[j][b];
      for (int a = 0; a < 6; ++a)
        for (int b = 0; b < 6; ++b) ve += bt[i][a] * d[static_cast<size_t>(6 * a + b)] * bt[j][b];
      EXPECT_NEAR(u[6 * i + j], ue, 1e-5) << i << "," << j;
      EXPECT_NEAR(v[6 * i + j], ve, 1e-4) << i << "," << j;
    }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      double ye = 0.0;
      for (int a = 0; a < 6; ++a)
        for (int b = 0; b < 6; ++b) ye += at[i][a] * m[static_cast<size_t>(6 * a + b)] * at[j][b];
      EXPECT_NEAR(y[4 * i + j], ye, 1e-4) << i << "," << j;
    }
}

}  // namespace
}  // namespace keel
