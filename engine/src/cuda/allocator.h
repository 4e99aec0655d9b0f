// keel's caching device allocator: freed blocks go to per-size-class free lists and are handed out
// again, so a training loop calls cudaMalloc only while it warms up. All work runs on one stream,
// which makes a freed block safe to reuse at once: later kernels are queued after earlier ones.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/runtime.h"

namespace keel::cuda {

// How long a block stays with its owner. A scoped block (an op's Scratch) is released before the op
// returns, on keel's one stream, so no later work can find it in use; a held one (a tensor) may
// outlive any number of steps.
enum class Lifetime { held, scoped };

void* allocate_bytes(size_t bytes, Lifetime lifetime = Lifetime::held);
void release_bytes(void* ptr);
GpuMemoryStats allocator_stats();
// Returns every cached (free) block to the driver.
void release_cache();
// Counts every held allocation and every return of cached blocks to the driver. While it stays the
// same, no block has passed to a new lasting owner: what a captured graph's kernels read and write
// is still theirs (a scoped block lent out meanwhile has come back before the graph runs again).
uint64_t allocator_generation();

// A scratch buffer from the caching allocator for the duration of one op (im2col columns,
// reduction partials, cuDNN workspaces).
class Scratch {
 public:
  explicit Scratch(size_t bytes)
      : ptr_(bytes ? allocate_bytes(bytes, Lifetime::scoped) : nullptr), bytes_(bytes) {}
  ~Scratch() {
    if (ptr_) release_bytes(ptr_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  template <typename T = float>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_;
  size_t bytes_;
};

}  // namespace keel::cuda
