// Device memory and copies of the CUDA backend (allocate, release, copy_*, fill, synchronize),
// all ordered on keel's one stream.
#include <cuda_runtime.h>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "elementwise.cuh"

namespace keel::cuda {

float* allocate(size_t count) { return static_cast<float*>(allocate_bytes(count * sizeof(float))); }

void release(float* ptr, size_t count) {
  if (ptr) release_bytes(ptr);
}

void copy_to_device(float* dst, const float* src, size_t count) {
  if (count == 0) return;
  KEEL_CUDA_CHECK(cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyHostToDevice, stream()));
  // The host buffer may be pageable and freed right after we return; waiting keeps that safe.
  KEEL_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_to_host(float* dst, const float* src, size_t count) {
  if (count == 0) return;
  KEEL_CUDA_CHECK(cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyDeviceToHost, stream()));
  KEEL_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_on_device(float* dst, const float* src, size_t count) {
  if (count == 0 || dst == src) return;
  KEEL_CUDA_CHECK(cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyDeviceToDevice, stream()));
}

void fill(float* dst, size_t count, float value) {
  if (count == 0) return;
  launch_fill(dst, count, value, stream());
}

void synchronize() { KEEL_CUDA_CHECK(cudaStreamSynchronize(stream())); }

bool device_present() {
  static const bool present = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      (void)cudaGetLastError();  // no driver or no device: report absence, not an error
      return false;
    }
    return count > 0;
  }();
  return present;
}

GpuMemoryStats memory_stats() { return allocator_stats(); }
void release_cached_memory() { release_cache(); }

}  // namespace keel::cuda
