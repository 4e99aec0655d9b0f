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
    if (shard_total_ > 0) return reserve_shard(count);
    uint64_t first = offset_;
    offset_ += count;
    return first;
  }
  // Data-parallel training: this process draws for rows [begin, begin + rows) of a batch of
  // `total` rows. reserve() then hands out, for those rows, the counters a single process would
  // give them within the whole batch's block, and moves past that whole block, so every process
  // draws the single-process run's values. That holds when a reservation is a whole number of
  // counters per row (dropout over rows of a multiple of 4 values); otherwise each process still
  // gets counters no other uses, but not the same values. total = 0 ends it.
  void set_row_shard(uint64_t begin, uint64_t rows, uint64_t total) {
    shard_begin_ = begin;
    shard_rows_ = rows;
    shard_total_ = total;
  }
  // Host-side draws for data shuffling and augmentation decisions.
  uint32_t next_u32();
  float next_uniform();                     // [0, 1)
  uint64_t next_below(uint64_t bound);      // [0, bound), unbiased
  float next_uniform(float low, float high);

 private:
  uint64_t reserve_shard(uint64_t count) {
    const uint64_t per_row = (count + shard_rows_ - 1) / shard_rows_;
    const uint64_t first = offset_ + shard_begin_ * per_row;
    offset_ += shard_total_ * per_row;
    return first;
  }

  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
  uint64_t shard_begin_ = 0, shard_rows_ = 1, shard_total_ = 0;
  uint32_t words_[4] = {0, 0, 0, 0};
  int words_left_ = 0;
};

}  // namespace keel
