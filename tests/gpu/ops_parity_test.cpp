// CPU vs CUDA parity where the op-case table (tests/gpu/op_cases_gpu_test.cpp) does not reach:
// ReLU and add in place, the dropout generator's counters, and sum's double result. Bounds
// (relative error against the CPU result): 1e-6 element-wise, 1e-5 for the sum.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "keel/ops.h"
#include "keel/random.h"

namespace keel {
namespace {

using namespace gpu_testing;

constexpr double kExactTol = 1e-6;
constexpr double kReduceTol = 1e-5;

// ReLU and add writing into their input, as the layers use them (the table's cases write into
// fresh outputs).
TEST(ElementwiseParity, InPlaceMatchesCpu) {
  KEEL_REQUIRE_CUDA();
  const Shape s{3, 5, 7, 9};
  Tensor x = rand_cpu(s, 1), other = rand_cpu(s, 2);
  Tensor y_cpu, sum_cpu;
  KEEL_CPU_ORACLE(relu_forward(x, y_cpu); add(x, other, sum_cpu));
  Tensor inplace = to_gpu(x);
  relu_forward(inplace, inplace);
  KEEL_EXPECT_CLOSE(inplace, y_cpu, kExactTol);
  Tensor acc = to_gpu(x);
  add(acc, to_gpu(other), acc);
  KEEL_EXPECT_CLOSE(acc, sum_cpu, kExactTol);
}

TEST(DropoutParity, MaskIsIdenticalToCpuBitForBit) {
  KEEL_REQUIRE_CUDA();
  for (float p : {0.25f, 0.5f}) {
    const Shape s{3, 1027};  // not a multiple of 4: the last counter is partly used
    Tensor x = rand_cpu(s, 8), dy = rand_cpu(s, 9);
    Generator cpu_gen(1234), gpu_gen(1234);
    cpu_gen.reserve(17);
    gpu_gen.reserve(17);
    Tensor y_cpu, mask_cpu, dx_cpu;
    KEEL_CPU_ORACLE(dropout_forward(x, p, cpu_gen, y_cpu, mask_cpu); dropout_backward(dy, mask_cpu, dx_cpu));
    Tensor y = poisoned(s), mask = poisoned(s), dx = poisoned(s);
    dropout_forward(to_gpu(x), p, gpu_gen, y, mask);
    dropout_backward(to_gpu(dy), mask, dx);
    EXPECT_TRUE(bitwise_equal(mask, mask_cpu)) << "dropout mask differs from the CPU's at p=" << p;
    EXPECT_TRUE(bitwise_equal(y, y_cpu)) << "dropout output differs at p=" << p;
    KEEL_EXPECT_CLOSE(dx, dx_cpu, kExactTol);
    EXPECT_EQ(gpu_gen.offset(), cpu_gen.offset()) << "both devices must reserve the same counters";
    // The mask really drops: a fraction near p of the entries is zero.
    const std::vector<float> m = mask.to_vector();
    double zeros = 0;
    for (float v : m) zeros += v == 0.0f;
    EXPECT_NEAR(zeros / m.size(), p, 0.05);
  }
}

TEST(ReductionParity, SumMatchesCpuAndFloat64) {
  KEEL_REQUIRE_CUDA();
  Tensor x = rand_cpu(Shape{3, 5, 77, 91}, 30, 0.0f, 2.0f);
  double ref = 0.0;
  for (float v : x.to_vector()) ref += v;
  const double gpu = sum(to_gpu(x));
  EXPECT_LE(std::abs(gpu - ref), 1e-9 * std::abs(ref));  // double accumulation on the device
  double cpu = 0.0;
  KEEL_CPU_ORACLE(cpu = sum(x));
  EXPECT_LE(std::abs(gpu - cpu), kReduceTol * std::abs(cpu));
}

}  // namespace
}  // namespace keel
