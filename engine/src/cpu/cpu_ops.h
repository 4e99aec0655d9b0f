// The CPU backend (Eigen + OpenMP): every op of ops.h under the same name and argument order.
// One .cpp per op family in this folder; the plain-loop references live in tests/.
#pragma once

#include "keel/ops.h"

namespace keel::cpu {
#include "keel/op_list.inc"
}  // namespace keel::cpu
