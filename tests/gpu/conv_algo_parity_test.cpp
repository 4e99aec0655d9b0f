// Every path of keel's CUDA convolution against the CPU backend and against each other, forward and
// backward, with NaN-poisoned outputs so that an unwritten element fails: Winograd F(4x4) and
// F(2x2) (gpu_conv_algo winograd4 / winograd2) at awkward 3x3 shapes, and the im2col path at
// stem-like 7x7 stride-2 padding-3 shapes with 3 input channels, including a reduction long enough
// for the sliced filter-gradient GEMMs (with a remainder slice) and, where cuDNN is built, ResNet's
// stem at batch 64 (two chunks) against cuDNN; the direct filter gradient (gpu_conv_dw direct) on
// the same shapes. Bound: 1e-4 relative error in fp32 with TF32 off.
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "keel/ops.h"

namespace keel {
namespace {

using namespace gpu_testing;

constexpr double kTol = 1e-4;

struct Outputs {
  Tensor y, dx, dw, db;
};

// Forward and backward on the device with gpu_conv_algo = algo (nullptr: the default choice).
Outputs run_gpu(const char* algo, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy,
                Conv2dArgs args) {
  ConvAlgoGuard env(algo);
  Outputs r;
  r.y = poisoned(dy.shape());
  r.dx = poisoned(x.shape());
  r.dw = poisoned(w.shape());
  r.db = poisoned(Shape{w.dim(0)});
  const Tensor xg = to_gpu(x), wg = to_gpu(w), dyg = to_gpu(dy);
  conv2d_forward(xg, wg, b.defined() ? to_gpu(b) : Tensor(), r.y, args);
  conv2d_backward(xg, wg, dyg, &r.dx, r.dw, &r.db, args);
  return r;
}

void expect_matches(const Outputs& got, const Tensor& y, const Tensor& dx, const Tensor& dw, const Tensor& db) {
  KEEL_EXPECT_CLOSE(got.y, y, kTol);
  KEEL_EXPECT_CLOSE(got.dx, dx, kTol);
  KEEL_EXPECT_CLOSE(got.dw, dw, kTol);
  KEEL_EXPECT_CLOSE(got.db, db, kTol);
}

struct Case {
  int64_t n, c, k, h, w, r;
  int stride, padding;
  bool bias;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& p = info.param;
  return "n" + std::to_string(p.n) + "c" + std::to_string(p.c) + "k" + std::to_string(p.k) + "_" +
         std::to_string(p.h) + "x" + std::to_string(p.w) + "_r" + std::to_string(p.r) + "s" +
         std::to_string(p.stride) + "p" + std::to_string(p.padding) + (p.bias ? "_bias" : "");
}

struct Problem {
  Tensor x, w, b, dy;
  Conv2dArgs args;
  Tensor y_cpu, dx_cpu, dw_cpu, db_cpu;
};

Problem make_problem(const Case& p, uint64_t seed) {
  Problem q;
  q.args = Conv2dArgs{p.stride, p.padding};
  const int64_t oh = conv_out_size(p.h, p.r, p.stride, p.padding), ow = conv_out_size(p.w, p.r, p.stride, p.padding);
  q.x = rand_cpu(Shape{p.n, p.c, p.h, p.w}, seed);
  q.w = rand_cpu(Shape{p.k, p.c, p.r, p.r}, seed + 1, -0.5f, 0.5f);
  q.b = p.bias ? rand_cpu(Shape{p.k}, seed + 2) : Tensor();
  q.dy = rand_cpu(Shape{p.n, p.k, oh, ow}, seed + 3);
  return q;
}

// ---- 3x3 stride-1 padding-1: F(4x4), F(2x2), the default choice and im2col agree with the CPU.

class WinogradTileParity : public ::testing::TestWithParam<Case> {};

TEST_P(WinogradTileParity, EveryPathMatchesCpuAndEachOther) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  set_allow_tf32(false);
  Problem q = make_problem(GetParam(), 101);
  KEEL_CPU_ORACLE(conv2d_forward(q.x, q.w, q.b, q.y_cpu, q.args);
                  conv2d_backward(q.x, q.w, q.dy, &q.dx_cpu, q.dw_cpu, &q.db_cpu, q.args));
  const Outputs f4 = run_gpu("winograd4", q.x, q.w, q.b, q.dy, q.args);
  const Outputs f2 = run_gpu("winograd2", q.x, q.w, q.b, q.dy, q.args);
  const Outputs chosen = run_gpu(nullptr, q.x, q.w, q.b, q.dy, q.args);
  const Outputs col = run_gpu("im2col", q.x, q.w, q.b, q.dy, q.args);
  {
    SCOPED_TRACE("winograd4 vs cpu");
    expect_matches(f4, q.y_cpu, q.dx_cpu, q.dw_cpu, q.db_cpu);
  }
  {
    SCOPED_TRACE("winograd2 vs cpu");
    expect_matches(f2, q.y_cpu, q.dx_cpu, q.dw_cpu, q.db_cpu);
  }
  {
    SCOPED_TRACE("default vs cpu");
    expect_matches(chosen, q.y_cpu, q.dx_cpu, q.dw_cpu, q.db_cpu);
  }
  {
    SCOPED_TRACE("winograd4 vs im2col");
    expect_matches(f4, col.y, col.dx, col.dw, col.db);
  }
}

TEST_P(WinogradTileParity, BackwardWithoutInputGradientLeavesDwCorrect) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  set_allow_tf32(false);
  Problem q = make_problem(GetParam(), 201);
  KEEL_CPU_ORACLE(conv2d_backward(q.x, q.w, q.dy, nullptr, q.dw_cpu, nullptr, q.args));
  ConvAlgoGuard env("winograd4");
  Tensor dw = poisoned(q.w.shape());
  conv2d_backward(to_gpu(q.x), to_gpu(q.w), to_gpu(q.dy), nullptr, dw, nullptr, q.args);
  KEEL_EXPECT_CLOSE(dw, q.dw_cpu, kTol);
}

INSTANTIATE_TEST_SUITE_P(Shapes, WinogradTileParity,
                         ::testing::Values(Case{3, 5, 7, 5, 7, 3, 1, 1, true},     // odd plane, odd channels
                                           Case{3, 5, 7, 9, 9, 3, 1, 1, false},    // one partial tile per axis
                                           Case{3, 7, 5, 13, 11, 3, 1, 1, true},   // 13x11
                                           Case{2, 7, 5, 1, 1, 3, 1, 1, true},     // 1x1 plane
                                           Case{2, 3, 4, 4, 8, 3, 1, 1, false},    // whole tiles only
                                           Case{2, 64, 64, 56, 56, 3, 1, 1, true},  // ResNet stage 1 (F(4x4))
                                           Case{2, 128, 96, 28, 28, 3, 1, 1, false},  // stage 2 (F(4x4))
                                           Case{2, 32, 48, 27, 30, 3, 1, 1, true}),   // just under 28: F(2x2)
                         case_name);

// A batch whose F(4x4) tiles exceed the column budget runs in several chunks. The CPU would take
// minutes here, so F(2x2) and im2col are the references.
TEST(WinogradTileParity, ChunkedBatchMatchesOtherPaths) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  set_allow_tf32(false);
  Tensor x = rand_cpu(Shape{40, 256, 56, 56}, 301);
  Tensor w = rand_cpu(Shape{256, 256, 3, 3}, 302, -0.05f, 0.05f);
  Tensor b = rand_cpu(Shape{256}, 303);
  Tensor dy = rand_cpu(Shape{40, 256, 56, 56}, 304);
  const Conv2dArgs args{1, 1};
  const Outputs f4 = run_gpu("winograd4", x, w, b, dy, args);
  const Outputs f2 = run_gpu("winograd2", x, w, b, dy, args);
  const Outputs col = run_gpu("im2col", x, w, b, dy, args);
  KEEL_EXPECT_CLOSE(f4.y, col.y, kTol);
  KEEL_EXPECT_CLOSE(f4.dx, col.dx, kTol);
  KEEL_EXPECT_CLOSE(f4.dw, col.dw, kTol);
  KEEL_EXPECT_CLOSE(f2.y, col.y, kTol);
  KEEL_EXPECT_CLOSE(f2.dx, col.dx, kTol);
}

TEST(WinogradTileParity, Winograd4IsBitwiseRepeatable) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  set_deterministic(true);
  Tensor x = rand_cpu(Shape{8, 64, 56, 56}, 311);
  Tensor w = rand_cpu(Shape{64, 64, 3, 3}, 312, -0.1f, 0.1f);
  Tensor dy = rand_cpu(Shape{8, 64, 56, 56}, 314);
  const Outputs first = run_gpu("winograd4", x, w, Tensor(), dy, Conv2dArgs{1, 1});
  const Outputs second = run_gpu("winograd4", x, w, Tensor(), dy, Conv2dArgs{1, 1});
  EXPECT_TRUE(bitwise_equal(first.y.to(Device::cpu), second.y.to(Device::cpu)));
  EXPECT_TRUE(bitwise_equal(first.dx.to(Device::cpu), second.dx.to(Device::cpu)));
  EXPECT_TRUE(bitwise_equal(first.dw.to(Device::cpu), second.dw.to(Device::cpu)));
}

// ---- Stem-like 7x7 stride-2 padding-3 convolutions with 3 input channels on the im2col path.

class StemParity : public ::testing::TestWithParam<Case> {};

TEST_P(StemParity, ForwardAndBackwardMatchCpu) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  set_allow_tf32(false);
  Problem q = make_problem(GetParam(), 401);
  KEEL_CPU_ORACLE(conv2d_forward(q.x, q.w, q.b, q.y_cpu, q.args);
                  conv2d_backward(q.x, q.w, q.dy, &q.dx_cpu, q.dw_cpu, &q.db_cpu, q.args));
  const Outputs chosen = run_gpu(nullptr, q.x, q.w, q.b, q.dy, q.args);
  expect_matches(chosen, q.y_cpu, q.dx_cpu, q.dw_cpu, q.db_cpu);
  // Backward without dx: dw alone, by the GEMM and by the direct kernel (GpuConvDw::direct).
  for (const char* method : {"gemm", "direct"}) {
    ConvDwGuard dw_method(method);
    Tensor dw = poisoned(q.w.shape());
    conv2d_backward(to_gpu(q.x), to_gpu(q.w), to_gpu(q.dy), nullptr, dw, nullptr, q.args);
    KEEL_EXPECT_CLOSE(dw, q.dw_cpu, kTol);
  }
}

// The direct filter gradient with two tiles of output channels (70 = 64 + 6), a full 160-entry
// filter row, and a request for dx as well (which stays on the GEMM path); bitwise repeatable.
TEST(DirectFilterGradient, ChannelTilesFullRowAndRepeatability) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  set_allow_tf32(false);
  ConvDwGuard dw_method("direct");
  for (const Case& c : {Case{3, 3, 70, 23, 21, 7, 2, 3, false}, Case{4, 10, 12, 15, 15, 4, 1, 0, false}}) {
    Problem q = make_problem(c, 601);
    KEEL_CPU_ORACLE(conv2d_backward(q.x, q.w, q.dy, &q.dx_cpu, q.dw_cpu, &q.db_cpu, q.args));
    Tensor dw1 = poisoned(q.w.shape()), dw2 = poisoned(q.w.shape());
    conv2d_backward(to_gpu(q.x), to_gpu(q.w), to_gpu(q.dy), nullptr, dw1, nullptr, q.args);
    conv2d_backward(to_gpu(q.x), to_gpu(q.w), to_gpu(q.dy), nullptr, dw2, nullptr, q.args);
    KEEL_EXPECT_CLOSE(dw1, q.dw_cpu, kTol);
    EXPECT_TRUE(bitwise_equal(dw1, dw2));
    const Outputs both = run_gpu(nullptr, q.x, q.w, Tensor(), q.dy, q.args);
    KEEL_EXPECT_CLOSE(both.dx, q.dx_cpu, kTol);
    KEEL_EXPECT_CLOSE(both.dw, q.dw_cpu, kTol);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, StemParity,
    ::testing::Values(Case{3, 3, 5, 5, 7, 7, 2, 3, true},      // plane smaller than the kernel
                      Case{3, 3, 5, 9, 9, 7, 2, 3, false},     // odd square plane
                      Case{3, 3, 7, 13, 11, 7, 2, 3, true},    // 13x11
                      Case{2, 3, 4, 8, 6, 7, 2, 3, false},     // even plane
                      Case{7, 3, 9, 99, 101, 7, 2, 3, true},   // 17850 columns: 4 dw slices and a rest of 2
                      Case{2, 5, 6, 17, 15, 5, 3, 2, false}),  // 5x5 stride 3: other tap steps in col2im
    case_name);

// ResNet-34's stem at batch 64 runs in two chunks with sliced dw GEMMs; against cuDNN where it is
// built, and dw against the sum of the dw of two halves of the batch (each one chunk).
TEST(StemParity, ResNetStemAtBatch64) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_allow_tf32(false);
  set_gpu_backend(GpuBackend::keel);
  const Conv2dArgs args{2, 3};
  Tensor x = rand_cpu(Shape{64, 3, 224, 224}, 501);
  Tensor w = rand_cpu(Shape{64, 3, 7, 7}, 502, -0.1f, 0.1f);
  Tensor dy = rand_cpu(Shape{64, 64, 112, 112}, 503);
  const Outputs full = run_gpu(nullptr, x, w, Tensor(), dy, args);
  Tensor dw_a = poisoned(w.shape()), dw_b = poisoned(w.shape());
  conv2d_backward(to_gpu(x.rows(0, 32)), to_gpu(w), to_gpu(dy.rows(0, 32)), nullptr, dw_a, nullptr, args);
  conv2d_backward(to_gpu(x.rows(32, 64)), to_gpu(w), to_gpu(dy.rows(32, 64)), nullptr, dw_b, nullptr, args);
  std::vector<float> halves = dw_a.to_vector();
  const std::vector<float> second = dw_b.to_vector();
  for (size_t i = 0; i < halves.size(); ++i) halves[i] += second[i];
  EXPECT_LE(keel::testing::relative_error(full.dw.to_vector(), halves), kTol);
  {  // the direct filter gradient at the real size (802816 positions, several tiles per block)
    ConvDwGuard dw_method("direct");
    Tensor dw_direct = poisoned(w.shape());
    conv2d_backward(to_gpu(x), to_gpu(w), to_gpu(dy), nullptr, dw_direct, nullptr, args);
    KEEL_EXPECT_CLOSE(dw_direct, full.dw.to(Device::cpu), kTol);
  }
  if (!cudnn_built()) GTEST_SKIP() << "no cuDNN in this build: compared with the two halves only";
  set_gpu_backend(GpuBackend::cudnn);
  const Outputs ref = run_gpu(nullptr, x, w, Tensor(), dy, args);
  KEEL_EXPECT_CLOSE(full.y, ref.y, kTol);
  KEEL_EXPECT_CLOSE(full.dx, ref.dx, kTol);
  KEEL_EXPECT_CLOSE(full.dw, ref.dw, kTol);
}

}  // namespace
}  // namespace keel
