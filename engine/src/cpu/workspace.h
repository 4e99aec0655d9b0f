// Grow-only scratch memory for the CPU ops (im2col columns, packed GEMM operands), so a training
// loop that repeats the same shapes allocates nothing after its first step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "common/dims.h"
#include "keel/tensor.h"

namespace keel::cpu {

// Independent scratch buffers of one op call; an op may hold all of them at once.
enum class ScratchSlot { packed_a, packed_b, columns, partial, transposed, output, count };

// At least `count` floats, 64-byte aligned, owned by the calling thread and valid until the next
// request for the same slot from that thread. Contents are unspecified (not zeroed). Grows, never
// shrinks: once a shape has been seen, requests of that size or smaller do not allocate.
float* scratch(ScratchSlot slot, size_t count);

// Bytes currently held by the calling thread's scratch buffers (all slots together).
size_t scratch_capacity_bytes();

// Rounds a per-thread slice length up to whole cache lines, so slices handed to different OpenMP
// threads never share a line (no false sharing between their writes).
constexpr size_t cache_line_floats(size_t count) {
  return (count + 15) / 16 * 16;
}

// Tensor::ensure for a CPU output, skipped when it already has these dimensions (allocates
// nothing on a training step's repeated shapes; common/dims.h has the matching checks).
inline void ensure_output(Tensor& t, std::initializer_list<int64_t> dims) {
  if (!has_dims(t, dims) || t.device() != Device::cpu) t.ensure(Shape(dims), Device::cpu);
}

}  // namespace keel::cpu
