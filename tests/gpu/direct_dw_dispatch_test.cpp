// keel::GpuConvDw::direct takes effect where it should, and only there: the direct kernel and the
// GEMM give the same gradient, so the parity tests alone cannot tell which ran; the backend's count
// of direct filter gradients can. Also the direct kernel on a batch long enough that every block
// runs several tiles on any card (32768 positions), against the CPU. (Built with the CUDA backend
// only: it reads the backend's own counter.)
#include <gtest/gtest.h>

#include "cuda/cuda_ops.h"
#include "gpu/gpu_test_util.h"
#include "keel/ops.h"

namespace keel {
namespace {

using namespace gpu_testing;

// Runs dw (and dx when asked) of a 7x7 stride-2 stem-like convolution; returns how many direct
// filter gradients that took.
int64_t direct_runs(const char* method, bool with_dx) {
  ConvDwGuard dw_method(method);
  const Tensor x = to_gpu(rand_cpu(Shape{2, 3, 20, 20}, 701)), w = to_gpu(rand_cpu(Shape{8, 3, 7, 7}, 702));
  const Tensor dy = to_gpu(rand_cpu(Shape{2, 8, 10, 10}, 703));
  Tensor dx, dw;
  const int64_t before = cuda::direct_filter_gradients();
  conv2d_backward(x, w, dy, with_dx ? &dx : nullptr, dw, nullptr, Conv2dArgs{2, 3});
  return cuda::direct_filter_gradients() - before;
}

TEST(DirectDwDispatch, OnlyDwAloneWithTheSettingRunsDirect) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  EXPECT_EQ(direct_runs("direct", false), 1);
  EXPECT_EQ(direct_runs("direct", true), 0);  // dx needs the column matrix anyway
  EXPECT_EQ(direct_runs("gemm", false), 0);
  EXPECT_EQ(direct_runs(nullptr, false), 0);  // the default, until timed on a GPU
}

TEST(DirectDwDispatch, SeveralTilesPerBlockMatchCpu) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  set_allow_tf32(false);
  const Conv2dArgs args{2, 3};
  const Tensor x = rand_cpu(Shape{2, 3, 256, 256}, 711), w = rand_cpu(Shape{64, 3, 7, 7}, 712, -0.1f, 0.1f);
  const Tensor dy = rand_cpu(Shape{2, 64, 128, 128}, 713);
  Tensor dw_cpu;
  KEEL_CPU_ORACLE(conv2d_backward(x, w, dy, nullptr, dw_cpu, nullptr, args));
  ConvDwGuard dw_method("direct");
  Tensor dw = poisoned(w.shape());
  const int64_t before = cuda::direct_filter_gradients();
  conv2d_backward(to_gpu(x), to_gpu(w), to_gpu(dy), nullptr, dw, nullptr, args);
  EXPECT_EQ(cuda::direct_filter_gradients() - before, 1);
  KEEL_EXPECT_CLOSE(dw, dw_cpu, 1e-4);
}

}  // namespace
}  // namespace keel
