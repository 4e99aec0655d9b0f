// The calling thread's grow-only scratch buffers (see workspace.h). thread_local, so independent
// threads that each run ops never share a buffer; OpenMP workers use slices of the caller's.
#include "cpu/workspace.h"

#include <cstdlib>
#include <new>

#include "common/check.h"

namespace keel::cpu {

namespace {
constexpr size_t kSlots = static_cast<size_t>(ScratchSlot::count);

struct Buffers {
  float* data[kSlots] = {};
  size_t count[kSlots] = {};
  Buffers() = default;
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
  ~Buffers() {
    for (float* p : data) std::free(p);
  }
};

Buffers& buffers() {
  thread_local Buffers b;
  return b;
}
}  // namespace

float* scratch(ScratchSlot slot, size_t count) {
  const auto i = static_cast<size_t>(slot);
  KEEL_CHECK(i < kSlots, "scratch: bad slot {}", i);
  Buffers& b = buffers();
  if (count == 0) count = 1;
  if (b.count[i] < count) {
    // Grow by at least half again so a slowly growing shape does not reallocate every call.
    size_t grown = b.count[i] + b.count[i] / 2;
    size_t n = cache_line_floats(count > grown ? count : grown);
    std::free(b.data[i]);
    b.data[i] = nullptr;
    b.count[i] = 0;
    void* p = std::aligned_alloc(64, n * sizeof(float));
    if (!p) throw std::bad_alloc();
    b.data[i] = static_cast<float*>(p);
    b.count[i] = n;
  }
  return b.data[i];
}

size_t scratch_capacity_bytes() {
  const Buffers& b = buffers();
  size_t total = 0;
  for (size_t c : b.count) total += c * sizeof(float);
  return total;
}

}  // namespace keel::cpu
