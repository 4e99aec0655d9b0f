// The Winograd F(2x2, 3x3) convolution of the CUDA backend, run on the CPU: the per-thread bodies
// of engine/src/cuda/kernels/winograd_transforms.h (the exact code the kernels call) driven by
// plain loops in the order engine/src/cuda/conv.cpp launches them, with a plain loop in place of
// each batched SGEMM, against the float64 direct convolution. Bound: 1e-5 relative error (fp32 sums
// of at most a few hundred terms).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "op_cases/conv_reference.h"
#include "ops/winograd_test_util.h"
#include "support/test_util.h"
#include "winograd_transforms.h"

namespace keel {
namespace {

namespace wg = keel::winograd;
using testing::ConvDims;

constexpr double kTol = 1e-5;
constexpr float kPoison = testing::kWinogradPoison;
using testing::batched_gemm;
using testing::max_relative_error;
using testing::random_values;

int64_t tiles_of(int64_t images, int64_t h, int64_t w) { return images * wg::tiles_along(h) * wg::tiles_along(w); }

// The filter transform kernel: one body per (kout, cin).
std::vector<float> transform_filters(const std::vector<float>& w, int64_t kout, int64_t cin, bool flip) {
  std::vector<float> u(static_cast<size_t>(16 * kout * cin), kPoison);
  for (int64_t ko = 0; ko < kout; ++ko)
    for (int64_t ci = 0; ci < cin; ++ci) wg::filter_transform_at(w.data(), kout, cin, flip, ko, ci, u.data());
  return u;
}

// The input transform kernel over a (16, S, C, Ts) buffer, padding tiles included.
void transform_inputs(const float* x, int64_t images, int64_t c, int64_t h, int64_t w, int64_t slices,
                      std::vector<float>& v) {
  const wg::TileLayout layout = wg::tile_layout(tiles_of(images, h, w), slices);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t t = 0; t < layout.padded(); ++t) wg::input_transform_at(x, c, h, w, layout, ch, t, v.data());
}

// Forward (and, with flip, backward data) as conv.cpp's winograd_forward runs it, `chunk` images at a
// time: x (n, cin, h, w), w -> y (n, kout, h, w).
std::vector<float> winograd_conv(const std::vector<float>& x, const std::vector<float>& w, const float* bias,
                                 int64_t n, int64_t cin, int64_t kout, int64_t h, int64_t wd, bool flip,
                                 int64_t chunk) {
  const std::vector<float> u = transform_filters(w, kout, cin, flip);
  std::vector<float> y(static_cast<size_t>(n * kout * h * wd), kPoison);
  for (int64_t n0 = 0; n0 < n; n0 += chunk) {
    const int64_t images = std::min(chunk, n - n0);
    const int64_t tiles = tiles_of(images, h, wd);
    std::vector<float> v(static_cast<size_t>(16 * cin * tiles), kPoison);
    std::vector<float> m(static_cast<size_t>(16 * kout * tiles), kPoison);
    transform_inputs(x.data() + n0 * cin * h * wd, images, cin, h, wd, 1, v);
    batched_gemm(false, kout, tiles, cin, u.data(), kout * cin, v.data(), cin * tiles, 0.0f, m.data(),
                 kout * tiles, 16);
    for (int64_t k = 0; k < kout; ++k)
      for (int64_t t = 0; t < tiles; ++t)
        wg::output_transform_at(m.data(), kout, h, wd, tiles, bias, k, t, y.data() + n0 * kout * h * wd);
  }
  return y;
}

// Backward filter as conv.cpp's winograd_backward runs it: x (n, c, h, w), dy (n, k, h, w) -> dw.
std::vector<float> winograd_filter_grad(const std::vector<float>& x, const std::vector<float>& dy, int64_t n,
                                        int64_t c, int64_t k, int64_t h, int64_t wd, int64_t chunk,
                                        int64_t slices) {
  std::vector<float> du(static_cast<size_t>(16 * slices * k * c), kPoison);
  for (int64_t n0 = 0; n0 < n; n0 += chunk) {
    const int64_t images = std::min(chunk, n - n0);
    const wg::TileLayout layout = wg::tile_layout(tiles_of(images, h, wd), slices);
    std::vector<float> vx(static_cast<size_t>(16 * layout.point_stride(c)), kPoison);
    std::vector<float> gy(static_cast<size_t>(16 * layout.point_stride(k)), kPoison);
    transform_inputs(x.data() + n0 * c * h * wd, images, c, h, wd, slices, vx);
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t t = 0; t < layout.padded(); ++t)
        wg::output_grad_transform_at(dy.data() + n0 * k * h * wd, k, h, wd, layout, kk, t, gy.data());
    batched_gemm(true, k, c, layout.slice_len, gy.data(), k * layout.slice_len, vx.data(), c * layout.slice_len,
                 n0 == 0 ? 0.0f : 1.0f, du.data(), k * c, 16 * slices);
  }
  std::vector<float> dw(static_cast<size_t>(k * c * 9), kPoison);
  for (int64_t kk = 0; kk < k; ++kk)
    for (int64_t cc = 0; cc < c; ++cc) wg::filter_grad_transform_at(du.data(), k, c, slices, kk, cc, dw.data());
  return dw;
}

struct Case {
  int64_t n, c, k, h, w;
  int64_t chunk, slices;
};

class WinogradTransform : public ::testing::TestWithParam<Case> {};

TEST_P(WinogradTransform, ForwardMatchesDirectConvolution) {
  const Case p = GetParam();
  const ConvDims d{p.n, p.c, p.h, p.w, p.k, 3, 3, 1, 1};
  const std::vector<float> x = random_values(static_cast<size_t>(p.n * p.c * p.h * p.w), 1);
  const std::vector<float> w = random_values(static_cast<size_t>(p.k * p.c * 9), 2);
  const std::vector<float> b = random_values(static_cast<size_t>(p.k), 3);
  const std::vector<double> ref = testing::conv2d_reference_forward(x, w, b, d);
  const std::vector<float> y = winograd_conv(x, w, b.data(), p.n, p.c, p.k, p.h, p.w, false, p.chunk);
  EXPECT_LE(max_relative_error(y, ref), kTol);
  const std::vector<double> ref_nobias = testing::conv2d_reference_forward(x, w, {}, d);
  EXPECT_LE(max_relative_error(winograd_conv(x, w, nullptr, p.n, p.c, p.k, p.h, p.w, false, p.chunk), ref_nobias),
            kTol);
}

TEST_P(WinogradTransform, BackwardDataMatchesDirectConvolution) {
  const Case p = GetParam();
  const ConvDims d{p.n, p.c, p.h, p.w, p.k, 3, 3, 1, 1};
  const std::vector<float> x = random_values(static_cast<size_t>(p.n * p.c * p.h * p.w), 4);
  const std::vector<float> w = random_values(static_cast<size_t>(p.k * p.c * 9), 5);
  const std::vector<float> dy = random_values(static_cast<size_t>(p.n * p.k * p.h * p.w), 6);
  const testing::ConvGradients ref = testing::conv2d_reference_backward(x, w, dy, d);
  // dx is the convolution of dy (n, K, h, w) into C channels by the turned, channel-swapped filter.
  const std::vector<float> dx = winograd_conv(dy, w, nullptr, p.n, p.k, p.c, p.h, p.w, true, p.chunk);
  EXPECT_LE(max_relative_error(dx, ref.dx), kTol);
}

TEST_P(WinogradTransform, BackwardFilterMatchesDirectConvolution) {
  const Case p = GetParam();
  const ConvDims d{p.n, p.c, p.h, p.w, p.k, 3, 3, 1, 1};
  const std::vector<float> x = random_values(static_cast<size_t>(p.n * p.c * p.h * p.w), 7);
  const std::vector<float> w = random_values(static_cast<size_t>(p.k * p.c * 9), 8);
  const std::vector<float> dy = random_values(static_cast<size_t>(p.n * p.k * p.h * p.w), 9);
  const testing::ConvGradients ref = testing::conv2d_reference_backward(x, w, dy, d);
  const std::vector<float> dw = winograd_filter_grad(x, dy, p.n, p.c, p.k, p.h, p.w, p.chunk, p.slices);
  EXPECT_LE(max_relative_error(dw, ref.dw), kTol);
}

INSTANTIATE_TEST_SUITE_P(
    AwkwardShapes, WinogradTransform,
    ::testing::Values(Case{3, 5, 7, 5, 7, 3, 1},     // odd plane: partial tiles at the right and bottom
                      Case{3, 5, 7, 5, 7, 2, 5},     // two chunks (2 + 1 images), 5 slices with padding tiles
                      Case{2, 3, 4, 9, 9, 1, 3},     // one image per chunk, odd square plane
                      Case{1, 16, 9, 7, 7, 1, 4},    // late-layer 7x7 plane
                      Case{2, 4, 3, 1, 1, 2, 1},     // 1x1 plane: every tap but the centre is padding
                      Case{3, 2, 3, 2, 3, 3, 7},     // more slices than a chunk has tiles
                      Case{2, 64, 8, 8, 6, 2, 2}),   // 64 channels: the longest fp32 sums here
    [](const ::testing::TestParamInfo<Case>& info) {
      const Case& p = info.param;
      return "n" + std::to_string(p.n) + "c" + std::to_string(p.c) + "k" + std::to_string(p.k) + "_" +
             std::to_string(p.h) + "x" + std::to_string(p.w) + "_chunk" + std::to_string(p.chunk) + "_slices" +
             std::to_string(p.slices);
    });

// The transforms are each other's adjoints where the backward pass relies on it: for random u, m and
// g, <output_transform(m), g> = <m, output_grad_transform(g)> and <filter_transform(f), d> =
// <f, filter_grad_transform(d)>.
TEST(WinogradTransform, BackwardTransformsAreAdjointsOfForwardOnes) {
  const std::vector<float> m = random_values(16, 10), g = random_values(4, 11);
  const std::vector<float> f = random_values(9, 12), d = random_values(16, 13);
  float y[4], dm[16], u[16], df[9];
  wg::output_transform(m.data(), y);
  wg::output_grad_transform(g.data(), dm);
  wg::filter_transform(f.data(), u);
  wg::filter_grad_transform(d.data(), df);
  double lhs = 0.0, rhs = 0.0;
  for (int i = 0; i < 4; ++i) lhs += double{y[i]} * g[static_cast<size_t>(i)];
  for (int i = 0; i < 16; ++i) rhs += double{m[static_cast<size_t>(i)]} * dm[i];
  EXPECT_NEAR(lhs, rhs, 1e-5);
  lhs = rhs = 0.0;
  for (int i = 0; i < 16; ++i) lhs += double{u[i]} * d[static_cast<size_t>(i)];
  for (int i = 0; i < 9; ++i) rhs += double{f[static_cast<size_t>(i)]} * df[i];
  EXPECT_NEAR(lhs, rhs, 1e-5);
}

}  // namespace
}  // namespace keel
