// CPU vs CUDA parity of the GEMM-based ops (convolution and linear), forward and backward, on
// awkward shapes (batch 3, odd planes, odd channels, stride 2, padding 0/1). Bound: 1e-4 relative
// error in fp32 with TF32 off (the two sides only sum in different orders).
#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "keel/ops.h"

namespace keel {
namespace {

using namespace gpu_testing;

constexpr double kGemmTol = 1e-4;

struct ConvCase {
  int64_t n, c, h, w, k, r, s;
  int stride, padding;
  bool bias;
};

class ConvParity : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvParity, ForwardAndBackwardMatchCpu) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  set_allow_tf32(false);
  const ConvCase p = GetParam();
  const Conv2dArgs args{p.stride, p.padding};
  Tensor x = rand_cpu(Shape{p.n, p.c, p.h, p.w}, 11);
  Tensor w = rand_cpu(Shape{p.k, p.c, p.r, p.s}, 12, -0.5f, 0.5f);
  Tensor b = p.bias ? rand_cpu(Shape{p.k}, 13) : Tensor();
  const int64_t oh = conv_out_size(p.h, p.r, p.stride, p.padding), ow = conv_out_size(p.w, p.s, p.stride, p.padding);
  Tensor dy = rand_cpu(Shape{p.n, p.k, oh, ow}, 14);

  Tensor y_cpu, dx_cpu, dw_cpu, db_cpu;
  KEEL_CPU_ORACLE(conv2d_forward(x, w, b, y_cpu, args);
                  conv2d_backward(x, w, dy, &dx_cpu, dw_cpu, p.bias ? &db_cpu : nullptr, args));

  Tensor y = poisoned(y_cpu.shape()), dx = poisoned(x.shape()), dw = poisoned(w.shape()), db = poisoned(Shape{p.k});
  conv2d_forward(to_gpu(x), to_gpu(w), to_gpu(b), y, args);
  conv2d_backward(to_gpu(x), to_gpu(w), to_gpu(dy), &dx, dw, p.bias ? &db : nullptr, args);
  KEEL_EXPECT_CLOSE(y, y_cpu, kGemmTol);
  KEEL_EXPECT_CLOSE(dx, dx_cpu, kGemmTol);
  KEEL_EXPECT_CLOSE(dw, dw_cpu, kGemmTol);
  if (p.bias) KEEL_EXPECT_CLOSE(db, db_cpu, kGemmTol);
}

TEST_P(ConvParity, BackwardWithoutInputGradientLeavesDwCorrect) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  const ConvCase p = GetParam();
  const Conv2dArgs args{p.stride, p.padding};
  Tensor x = rand_cpu(Shape{p.n, p.c, p.h, p.w}, 21);
  Tensor w = rand_cpu(Shape{p.k, p.c, p.r, p.s}, 22, -0.5f, 0.5f);
  const int64_t oh = conv_out_size(p.h, p.r, p.stride, p.padding), ow = conv_out_size(p.w, p.s, p.stride, p.padding);
  Tensor dy = rand_cpu(Shape{p.n, p.k, oh, ow}, 24);
  Tensor dw_cpu;
  KEEL_CPU_ORACLE(conv2d_backward(x, w, dy, nullptr, dw_cpu, nullptr, args));
  Tensor dw = poisoned(w.shape());
  conv2d_backward(to_gpu(x), to_gpu(w), to_gpu(dy), nullptr, dw, nullptr, args);
  KEEL_EXPECT_CLOSE(dw, dw_cpu, kGemmTol);
}

INSTANTIATE_TEST_SUITE_P(
    AwkwardShapes, ConvParity,
    ::testing::Values(ConvCase{3, 5, 5, 7, 4, 3, 3, 1, 1, true},     // odd plane, padding 1
                      ConvCase{3, 3, 9, 7, 6, 3, 3, 2, 0, false},    // stride 2, no padding
                      ConvCase{2, 7, 6, 5, 5, 1, 1, 2, 0, true},     // 1×1 stride-2 downsample
                      ConvCase{3, 3, 15, 13, 8, 7, 7, 2, 3, false},  // 7×7/2 stem, small
                      ConvCase{1, 16, 7, 7, 9, 3, 3, 1, 1, true},    // late-layer 7×7 plane
                      ConvCase{5, 4, 4, 4, 3, 2, 3, 1, 1, true}));   // non-square kernel

TEST(LinearParity, ForwardAndBackwardMatchCpu) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_allow_tf32(false);
  for (bool bias : {true, false}) {
    Tensor x = rand_cpu(Shape{5, 7}, 31), w = rand_cpu(Shape{3, 7}, 32), dy = rand_cpu(Shape{5, 3}, 33);
    Tensor b = bias ? rand_cpu(Shape{3}, 34) : Tensor();
    Tensor y_cpu, dx_cpu, dw_cpu, db_cpu;
    KEEL_CPU_ORACLE(linear_forward(x, w, b, y_cpu); linear_backward(x, w, dy, &dx_cpu, dw_cpu, &db_cpu));
    Tensor y = poisoned(Shape{5, 3}), dx = poisoned(x.shape()), dw = poisoned(w.shape()), db = poisoned(Shape{3});
    linear_forward(to_gpu(x), to_gpu(w), to_gpu(b), y);
    linear_backward(to_gpu(x), to_gpu(w), to_gpu(dy), &dx, dw, &db);
    KEEL_EXPECT_CLOSE(y, y_cpu, kGemmTol);
    KEEL_EXPECT_CLOSE(dx, dx_cpu, kGemmTol);
    KEEL_EXPECT_CLOSE(dw, dw_cpu, kGemmTol);
    KEEL_EXPECT_CLOSE(db, db_cpu, kGemmTol);
  }
}

TEST(LinearParity, LargeLayerWithTf32StaysWithinTf32Bound) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  Tensor x = rand_cpu(Shape{64, 1024}, 41), w = rand_cpu(Shape{512, 1024}, 42, -0.05f, 0.05f);
  Tensor b = rand_cpu(Shape{512}, 43);
  Tensor y_cpu;
  KEEL_CPU_ORACLE(linear_forward(x, w, b, y_cpu));
  Tensor y = poisoned(y_cpu.shape());
  set_allow_tf32(false);
  linear_forward(to_gpu(x), to_gpu(w), to_gpu(b), y);
  KEEL_EXPECT_CLOSE(y, y_cpu, kGemmTol);
  // TF32 keeps 10 mantissa bits: about 1e-3 relative per product, far less after summation.
  set_allow_tf32(true);
  linear_forward(to_gpu(x), to_gpu(w), to_gpu(b), y);
  KEEL_EXPECT_CLOSE(y, y_cpu, 5e-3);
}

}  // namespace
}  // namespace keel
