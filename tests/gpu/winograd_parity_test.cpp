// The Winograd path of keel's CUDA convolution (3x3, stride 1, padding 1; gpu_conv_algo winograd
// takes it at every size, F(4x4) on planes of at least 28x28 and F(2x2) below,
// conv_algo_parity_test.cpp forces each tile size) against the CPU backend and against the same
// call with the im2col path forced (gpu_conv_algo im2col), forward and backward, at awkward shapes,
// a ResNet-like shape and a batch big enough to run in chunks. Bound: 1e-4 relative error in fp32
// with TF32 off, as for the im2col path (the paths only round differently).
#include <cstdlib>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "keel/error.h"
#include "keel/ops.h"

namespace keel {
namespace {

using namespace gpu_testing;

constexpr double kTol = 1e-4;

struct Shape3x3 {
  int64_t n, c, k, h, w;
  bool bias;
};

struct GpuResult {
  Tensor y, dx, dw, db;
};

// Forward and backward of a 3x3 stride-1 padding-1 convolution on the device with the algorithm
// `algo` (nullptr: the default choice, Winograd for this shape).
GpuResult run_gpu(const char* algo, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy) {
  ConvAlgoGuard env(algo);
  const Conv2dArgs args{1, 1};
  GpuResult r;
  r.y = poisoned(dy.shape());
  r.dx = poisoned(x.shape());
  r.dw = poisoned(w.shape());
  r.db = poisoned(Shape{w.dim(0)});
  const Tensor xg = to_gpu(x), wg = to_gpu(w), dyg = to_gpu(dy);
  conv2d_forward(xg, wg, b.defined() ? to_gpu(b) : Tensor(), r.y, args);
  conv2d_backward(xg, wg, dyg, &r.dx, r.dw, &r.db, args);
  return r;
}

class WinogradParity : public ::testing::TestWithParam<Shape3x3> {};

TEST_P(WinogradParity, MatchesCpuAndIm2col) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  set_allow_tf32(false);
  const Shape3x3 p = GetParam();
  const Conv2dArgs args{1, 1};
  Tensor x = rand_cpu(Shape{p.n, p.c, p.h, p.w}, 51);
  Tensor w = rand_cpu(Shape{p.k, p.c, 3, 3}, 52, -0.5f, 0.5f);
  Tensor b = p.bias ? rand_cpu(Shape{p.k}, 53) : Tensor();
  Tensor dy = rand_cpu(Shape{p.n, p.k, p.h, p.w}, 54);

  Tensor y_cpu, dx_cpu, dw_cpu, db_cpu;
  KEEL_CPU_ORACLE(conv2d_forward(x, w, b, y_cpu, args); conv2d_backward(x, w, dy, &dx_cpu, dw_cpu, &db_cpu, args));

  const GpuResult wino = run_gpu("winograd", x, w, b, dy);
  const GpuResult col = run_gpu("im2col", x, w, b, dy);
  KEEL_EXPECT_CLOSE(wino.y, y_cpu, kTol);
  KEEL_EXPECT_CLOSE(wino.dx, dx_cpu, kTol);
  KEEL_EXPECT_CLOSE(wino.dw, dw_cpu, kTol);
  KEEL_EXPECT_CLOSE(wino.db, db_cpu, kTol);
  KEEL_EXPECT_CLOSE(col.y, y_cpu, kTol);
  KEEL_EXPECT_CLOSE(col.dx, dx_cpu, kTol);
  KEEL_EXPECT_CLOSE(col.dw, dw_cpu, kTol);
  KEEL_EXPECT_CLOSE(wino.y, col.y, kTol);
  KEEL_EXPECT_CLOSE(wino.dx, col.dx, kTol);
  KEEL_EXPECT_CLOSE(wino.dw, col.dw, kTol);
}

TEST_P(WinogradParity, BackwardWithoutInputGradientLeavesDwCorrect) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  set_allow_tf32(false);
  const Shape3x3 p = GetParam();
  const Conv2dArgs args{1, 1};
  Tensor x = rand_cpu(Shape{p.n, p.c, p.h, p.w}, 61);
  Tensor w = rand_cpu(Shape{p.k, p.c, 3, 3}, 62, -0.5f, 0.5f);
  Tensor dy = rand_cpu(Shape{p.n, p.k, p.h, p.w}, 64);
  Tensor dw_cpu;
  KEEL_CPU_ORACLE(conv2d_backward(x, w, dy, nullptr, dw_cpu, nullptr, args));
  ConvAlgoGuard env("winograd");
  Tensor dw = poisoned(w.shape());
  conv2d_backward(to_gpu(x), to_gpu(w), to_gpu(dy), nullptr, dw, nullptr, args);
  KEEL_EXPECT_CLOSE(dw, dw_cpu, kTol);
}

INSTANTIATE_TEST_SUITE_P(Shapes, WinogradParity,
                         ::testing::Values(Shape3x3{3, 5, 7, 5, 7, true},     // odd plane, odd channels
                                           Shape3x3{3, 5, 7, 9, 9, false},    // odd square plane
                                           Shape3x3{2, 7, 5, 1, 1, true},     // 1x1 plane
                                           Shape3x3{1, 16, 9, 7, 7, true},    // late-layer 7x7 plane
                                           Shape3x3{4, 64, 64, 28, 28, true}  // ResNet-like
                                           ),
                         [](const ::testing::TestParamInfo<Shape3x3>& info) {
                           const Shape3x3& p = info.param;
                           return "n" + std::to_string(p.n) + "c" + std::to_string(p.c) + "k" +
                                  std::to_string(p.k) + "_" + std::to_string(p.h) + "x" + std::to_string(p.w) +
                                  (p.bias ? "_bias" : "");
                         });

// A batch whose transformed tiles exceed the column budget runs in chunks (and im2col in other
// chunks); dw sums over the chunks. The CPU would take minutes here, so im2col is the reference.
TEST(WinogradParity, ChunkedBatchMatchesIm2col) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  set_allow_tf32(false);
  Tensor x = rand_cpu(Shape{24, 256, 56, 56}, 71);
  Tensor w = rand_cpu(Shape{256, 256, 3, 3}, 72, -0.05f, 0.05f);
  Tensor b = rand_cpu(Shape{256}, 73);
  Tensor dy = rand_cpu(Shape{24, 256, 56, 56}, 74);
  const GpuResult wino = run_gpu("winograd", x, w, b, dy);
  const GpuResult col = run_gpu("im2col", x, w, b, dy);
  KEEL_EXPECT_CLOSE(wino.y, col.y, kTol);
  KEEL_EXPECT_CLOSE(wino.dx, col.dx, kTol);
  KEEL_EXPECT_CLOSE(wino.dw, col.dw, kTol);
}

TEST(WinogradParity, BackwardIsBitwiseRepeatable) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  set_deterministic(true);
  Tensor x = rand_cpu(Shape{8, 64, 56, 56}, 81);
  Tensor w = rand_cpu(Shape{64, 64, 3, 3}, 82, -0.1f, 0.1f);
  Tensor dy = rand_cpu(Shape{8, 64, 56, 56}, 84);
  const GpuResult first = run_gpu("winograd", x, w, Tensor(), dy);
  const GpuResult second = run_gpu("winograd", x, w, Tensor(), dy);
  EXPECT_TRUE(bitwise_equal(first.y.to(Device::cpu), second.y.to(Device::cpu)));
  EXPECT_TRUE(bitwise_equal(first.dx.to(Device::cpu), second.dx.to(Device::cpu)));
  EXPECT_TRUE(bitwise_equal(first.dw.to(Device::cpu), second.dw.to(Device::cpu)));
}

}  // namespace
}  // namespace keel
