// Generator: a seeded, counter-based (Philox4x32-10) random source. An op reserves a block of
// counters and element i draws from counter base + i/k, so CPU and CUDA produce identical values
// whatever the thread count or launch shape, and the state is two integers to checkpoint.
#pragma once

#include <cstdint>

namespace keel {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves `count` Philox counters (4 random words each); returns the first.
  uint64_t reserve(uint64_t count) {
    uint64_t first = offset_;
    offset_ += count;
    return first;
  }
  // Host-side draws for data shuffling and augmentation decisions.
  uint32_t next_u32();
  float next_uniform();                     // [0, 1)
  uint64_t next_below(uint64_t bound);      // [0, bound), unbiased
  float next_uniform(float low, float high);

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
  uint32_t words_[4] = {0, 0, 0, 0};
  int words_left_ = 0;
};

}  // namespace keel
