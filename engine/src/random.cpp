// Host-side draws of keel::Generator: the same Philox stream as the ops, consumed four words at a
// time, so shuffles and augmentation choices are reproducible and checkpointable (seed, offset).
#include "keel/random.h"

#include "common/philox.h"

namespace keel {

uint32_t Generator::next_u32() {
  if (words_left_ == 0) {
    philox::Words w = philox::draw(seed_, reserve(1), /*stream=*/1);
    for (int i = 0; i < 4; ++i) words_[i] = w.w[i];
    words_left_ = 4;
  }
  return words_[4 - words_left_--];
}

float Generator::next_uniform() { return philox::to_uniform(next_u32()); }

float Generator::next_uniform(float low, float high) { return low + (high - low) * next_uniform(); }

uint64_t Generator::next_below(uint64_t bound) {
  if (bound <= 1) return 0;
  // Rejection sampling on 64 bits removes the modulo bias.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  for (;;) {
    uint64_t r = (static_cast<uint64_t>(next_u32()) << 32) | next_u32();
    if (r < limit) return r % bound;
  }
}

}  // namespace keel
