// The CUDA backend's host side: every op of ops.h under the same name and argument order, plus
// device memory. Plain C++ types only; the kernels behind it are in cuda/kernels/*.cu.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/ops.h"
#include "keel/runtime.h"

namespace keel::cuda {
#include "keel/op_list.inc"

// Device memory through keel's caching allocator (no cudaMalloc in a training loop).
float* allocate(size_t count);
void release(float* ptr, size_t count);
void copy_to_device(float* dst, const float* src, size_t count);
void copy_to_host(float* dst, const float* src, size_t count);
void copy_on_device(float* dst, const float* src, size_t count);
void fill(float* dst, size_t count, float value);
void synchronize();
bool device_present();
// Creates the context, stream and library handles now instead of at first use (see warm_up.cpp).
GpuStartTimes warm_up();
GpuMemoryStats memory_stats();
// Filter gradients computed by the direct kernel so far (KEEL_CONV_DW=direct): lets a test see that
// the setting took effect, since both methods give the right answer.
int64_t direct_filter_gradients();
void release_cached_memory();
}  // namespace keel::cuda
