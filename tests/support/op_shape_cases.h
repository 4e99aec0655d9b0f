// One table of operands that do not fit, for every op the op layer checks (convolution, linear,
// pooling, batch norm, the element-wise and channel ops, dropout, the loss, row gathers, the
// optimizer and loss-scaler updates): each case runs its op on tensors of the given device and
// must be refused by the op layer (engine/src/op_shapes.cpp) with a message that starts with the
// op's name. The CPU tests
// run the table (tests/ops/op_shapes_test.cpp); the GPU tests run it again on CUDA tensors and
// expect the same messages, so no backend can accept what another refuses.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "keel/tensor.h"

namespace keel::testing {

struct OpShapeCase {
  std::string what;                 // the mistake, for the test's output
  std::string op;                   // the op that must refuse it
  std::function<void(Device)> run;  // calls the op on tensors of that device
};

const std::vector<OpShapeCase>& op_shape_cases();

}  // namespace keel::testing
