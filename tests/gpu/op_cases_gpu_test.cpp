// The op-case table (tests/op_cases/op_cases.h) on CUDA: every case's outputs and gradients match
// the CPU's (the oracle, itself checked against float64 and central differences in
// tests/ops/op_cases_test.cpp) within the case's parity bound, with FP32 GEMMs (TF32 off), on
// keel's kernels and on cuDNN where it is built. Device outputs are poisoned with NaN before the
// measured pass, so an element a kernel forgets to write fails the comparison.
#include <gtest/gtest.h>

#include <string>

#include "gpu_test_util.h"
#include "op_cases/op_cases.h"

namespace keel {
namespace {

using namespace gpu_testing;
using testing::CaseRun;
using testing::OpCase;

void expect_close(const testing::Tensors& gpu, const testing::Tensors& cpu, double tol,
                  const char* what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  for (size_t i = 0; i < gpu.size(); ++i) {
    ASSERT_EQ(gpu[i].shape(), cpu[i].shape()) << what << " " << i;
    EXPECT_LE(rel_err(gpu[i], cpu[i]), tol) << what << " " << i;
  }
}

void expect_every_case_matches_the_cpu(GpuBackend backend) {
  GpuSettingsGuard guard;
  set_gpu_backend(backend);
  set_allow_tf32(false);
  for (const OpCase& c : testing::op_cases()) {
    SCOPED_TRACE(c.name());
    const CaseRun cpu = testing::run_case(c, Device::cpu);
    const CaseRun gpu = testing::run_case(c, Device::cuda);
    expect_close(gpu.outputs, cpu.outputs, c.parity_tol, "output");
    expect_close(gpu.grads, cpu.grads, c.gradient_parity_tol(), "gradient");
  }
}

TEST(OpCasesGpu, KeelKernelsMatchTheCpuOnEveryCase) {
  KEEL_REQUIRE_CUDA();
  expect_every_case_matches_the_cpu(GpuBackend::keel);
}

TEST(OpCasesGpu, CudnnMatchesTheCpuOnEveryCase) {
  KEEL_REQUIRE_CUDA();
  if (!cudnn_built()) GTEST_SKIP() << "this keel build has no cuDNN backend";
  expect_every_case_matches_the_cpu(GpuBackend::cudnn);
}

}  // namespace
}  // namespace keel
