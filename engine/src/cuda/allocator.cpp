// The caching allocator behind keel::cuda::allocate (see allocator.h). Sizes are rounded to a
// size class (512 B steps below 1 MiB, 2 MiB steps above) so that blocks freed by one step fit the
// same requests in the next; an allocation that fails is retried once after the cache is emptied.
#include "cuda/allocator.h"

#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "cuda/check.h"
#include "keel/error.h"

namespace keel::cuda {

namespace {

constexpr size_t kSmallStep = 512;
constexpr size_t kSmallLimit = size_t{1} << 20;
constexpr size_t kLargeStep = size_t{2} << 20;

size_t size_class(size_t bytes) {
  if (bytes <= kSmallLimit) return (bytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  return (bytes + kLargeStep - 1) / kLargeStep * kLargeStep;
}

double mib(size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

class CachingAllocator {
 public:
  void* allocate(size_t bytes, Lifetime lifetime) {
    const size_t size = size_class(bytes == 0 ? 1 : bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    if (lifetime == Lifetime::held) ++generation_;
    size_t block = size;
    void* ptr = take_cached(size, &block);
    if (!ptr) ptr = device_malloc(size);
    live_.emplace(ptr, block);
    stats_.bytes_in_use += block;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
    return ptr;
  }

  void release(void* ptr) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(ptr);
    if (it == live_.end()) return;  // not ours: ignore rather than corrupt the lists
    const size_t size = it->second;
    live_.erase(it);
    stats_.bytes_in_use -= size;
    stats_.bytes_cached += size;
    free_[size].push_back(ptr);
  }

  GpuMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    empty_cache_locked();
  }

  uint64_t generation() {
    std::lock_guard<std::mutex> lock(mutex_);
    return generation_;
  }

 private:
  // Exact size class first; a large request may also take a cached block at most 1/8 larger,
  // which keeps chunked im2col buffers of slightly different layers from each holding their own.
  void* take_cached(size_t size, size_t* block_size) {
    auto it = free_.lower_bound(size);
    if (it == free_.end()) return nullptr;
    if (it->first != size && (size <= kSmallLimit || it->first > size + size / 8)) return nullptr;
    void* ptr = it->second.back();
    it->second.pop_back();
    // The block keeps its real size so that release puts it back in its own list.
    *block_size = it->first;
    if (it->second.empty()) free_.erase(it);
    stats_.bytes_cached -= *block_size;
    stats_.cache_hits += 1;
    return ptr;
  }

  void* device_malloc(size_t size) {
    void* ptr = nullptr;
    cudaError_t status = relaxed_malloc(&ptr, size);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear the sticky-free error before retrying
      empty_cache_locked();
      status = relaxed_malloc(&ptr, size);
    }
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      (void)cudaMemGetInfo(&free_bytes, &total_bytes);
      throw Error(ErrorKind::out_of_memory,
                  fmt::format("out of GPU memory: could not allocate {:.1f} MiB ({:.1f} MiB in use by "
                              "keel, {:.1f} MiB free of {:.1f} MiB on the device); lower "
                              "train.batch_size (or the image size / model width) in the config",
                              mib(size), mib(stats_.bytes_in_use), mib(free_bytes), mib(total_bytes)));
    }
    KEEL_CUDA_CHECK(status);
    stats_.device_allocations += 1;
    return ptr;
  }

  // A CUDA-graph capture on this thread forbids cudaMalloc unless its mode is relaxed. The block is
  // ordinary device memory that outlives the capture, so a cache miss while recording is harmless.
  static cudaError_t relaxed_malloc(void** ptr, size_t size) {
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    KEEL_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
    const cudaError_t status = cudaMalloc(ptr, size);
    KEEL_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
    return status;
  }

  void empty_cache_locked() {
    // cudaFree waits for the device, so no queued kernel can still be using a cached block.
    if (!free_.empty()) ++generation_;
    for (auto& [size, blocks] : free_) {
      for (void* ptr : blocks) KEEL_CUDA_CHECK(cudaFree(ptr));
    }
    free_.clear();
    stats_.bytes_cached = 0;
  }

  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  std::unordered_map<void*, size_t> live_;
  GpuMemoryStats stats_;
  uint64_t generation_ = 0;
};

// Never destroyed: tensors with static storage release their memory after main returns.
CachingAllocator& allocator() {
  static CachingAllocator* instance = new CachingAllocator();
  return *instance;
}

}  // namespace

void* allocate_bytes(size_t bytes, Lifetime lifetime) { return allocator().allocate(bytes, lifetime); }
void release_bytes(void* ptr) { allocator().release(ptr); }
GpuMemoryStats allocator_stats() { return allocator().stats(); }
void release_cache() { allocator().empty_cache(); }
uint64_t allocator_generation() { return allocator().generation(); }

}  // namespace keel::cuda
