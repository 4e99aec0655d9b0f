// The op layer's shape checks on CUDA tensors: every case of the shared table
// (tests/support/op_shape_cases.h) is refused on the device with exactly the CPU's message, since
// both come from one check before the backend is chosen.
#include <gtest/gtest.h>

#include <string>

#include "gpu_test_util.h"
#include "keel/error.h"
#include "support/op_shape_cases.h"

namespace keel {
namespace {

std::string refusal(const testing::OpShapeCase& c, Device device) {
  try {
    c.run(device);
  } catch (const Error& e) {
    return e.what();
  }
  return "accepted";
}

TEST(OpShapesGpu, EveryCaseIsRefusedWithTheCpuMessage) {
  KEEL_REQUIRE_CUDA();
  for (const testing::OpShapeCase& c : testing::op_shape_cases()) {
    EXPECT_EQ(refusal(c, Device::cuda), refusal(c, Device::cpu)) << c.op << ": " << c.what;
  }
}

}  // namespace
}  // namespace keel
