// The gradient through a ReLU, dy where its output y is positive and +0 elsewhere, as a mask on
// dy's bits. Loops that select with `y > 0 ? dy : 0` instead were left with a load under the
// condition, which GCC neither vectorises nor turns into a blend (it will not speculate the load),
// and a branch that mispredicts on half the elements: ReLU backward ran 34x slower.
#pragma once

#include <bit>
#include <cstdint>

namespace keel::cpu {

// Internal linkage: every kernel variant keeps its own copy, so the linker never swaps in one
// compiled for a wider instruction set (cmake/KeelCpuVariants.cmake).
namespace {

inline float relu_pass(float y, float dy) {
  const uint32_t keep = y > 0.0f ? 0xffffffffu : 0u;
  return std::bit_cast<float>(std::bit_cast<uint32_t>(dy) & keep);
}

}  // namespace
}  // namespace keel::cpu
