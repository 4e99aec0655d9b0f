// CPU vs CUDA parity of a large linear layer with TF32 on and off: TF32 keeps 10 mantissa bits,
// so the bound widens from FP32's 1e-4 (the two sides only sum in different orders) to 5e-3. The
// FP32 parity of every convolution and linear case is the op-case table's
// (tests/gpu/op_cases_gpu_test.cpp).
#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "keel/ops.h"

namespace keel {
namespace {

using namespace gpu_testing;

constexpr double kGemmTol = 1e-4;

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
