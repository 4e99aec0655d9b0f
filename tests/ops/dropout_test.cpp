// Dropout on the CPU: the mask follows the Philox recipe of op_list.inc element for element, the
// same seed repeats it, thread counts do not change it, and the kept fraction and scale are right.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "common/philox.h"
#include "keel/error.h"
#include "keel/ops.h"
#include "keel/random.h"
#include "keel/runtime.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::gradient_check_error;
using testing::random_tensor;

const Shape kShape{64, 1024};  // the head's dropout input: large enough for the parallel path

TEST(Dropout, MaskFollowsThePhiloxRecipe) {
  const float p = 0.25f;
  Tensor x = random_tensor({3, 5, 5, 7}, 1);  // 525 elements: the last counter is used partly
  Generator gen(42);
  gen.reserve(10);  // a generator that has been used before
  const uint64_t base = gen.offset();
  Tensor y, mask;
  dropout_forward(x, p, gen, y, mask);
  EXPECT_EQ(gen.offset(), base + (525 + 3) / 4);
  const auto xv = x.to_vector(), yv = y.to_vector(), mv = mask.to_vector();
  const float scale = 1.0f / (1.0f - p);
  for (size_t i = 0; i < xv.size(); ++i) {
    const uint32_t word = philox::draw(42, base + i / 4).w[i % 4];
    const float expected = philox::to_uniform(word) >= p ? scale : 0.0f;
    ASSERT_EQ(mv[i], expected) << i;
    ASSERT_EQ(yv[i], xv[i] * expected) << i;
  }
}

// The vectorised draws (sixteen counters at a time) against philox::draw where both 32-bit halves
// of the seed and of the counter matter: a 64-bit seed and counters that cross 2^32.
TEST(Dropout, MaskFollowsThePhiloxRecipeAcrossHighCounterBits) {
  const float p = 0.5f;
  Tensor x = random_tensor({7, 131}, 3);  // 917 elements: whole blocks of 64 and a ragged tail
  const uint64_t seed = 0x9E3779B97F4A7C15ull;
  Generator gen(seed);
  gen.reserve((uint64_t{1} << 32) - 100);  // the draws below straddle counter 2^32
  const uint64_t base = gen.offset();
  Tensor y, mask;
  dropout_forward(x, p, gen, y, mask);
  const auto xv = x.to_vector(), yv = y.to_vector(), mv = mask.to_vector();
  for (size_t i = 0; i < xv.size(); ++i) {
    const uint32_t word = philox::draw(seed, base + i / 4).w[i % 4];
    const float expected = philox::to_uniform(word) >= p ? 2.0f : 0.0f;
    ASSERT_EQ(mv[i], expected) << i;
    ASSERT_EQ(yv[i], xv[i] * expected) << i;
  }
}

TEST(Dropout, SameSeedSameMaskDifferentSeedDifferentMask) {
  Tensor x = random_tensor(kShape, 2);
  Generator a(7), b(7), c(8);
  Tensor ya, ma, yb, mb, yc, mc;
  dropout_forward(x, 0.5f, a, ya, ma);
  dropout_forward(x, 0.5f, b, yb, mb);
  dropout_forward(x, 0.5f, c, yc, mc);
  EXPECT_EQ(ma.to_vector(), mb.to_vector());
  EXPECT_EQ(ya.to_vector(), yb.to_vector());
  EXPECT_NE(ma.to_vector(), mc.to_vector());
  // The next call on the same generator draws fresh counters.
  dropout_forward(x, 0.5f, a, yb, mb);
  EXPECT_NE(ma.to_vector(), mb.to_vector());
}

TEST(Dropout, ThreadCountDoesNotChangeTheMask) {
  Tensor x = random_tensor(kShape, 3);
  const int threads = num_threads();
  Tensor y1, m1, y2, m2;
  set_num_threads(1);
  Generator g1(9);
  dropout_forward(x, 0.3f, g1, y1, m1);
  set_num_threads(2);
  Generator g2(9);
  dropout_forward(x, 0.3f, g2, y2, m2);
  set_num_threads(threads);
  EXPECT_EQ(m1.to_vector(), m2.to_vector());
}

// The mask is defined bit for bit: every path this CPU runs draws the same one, at sizes with
// and without whole blocks of the vector draws, a ragged last counter, counters crossing 2^32,
// and the parallel split.
TEST(Dropout, EveryPathDrawsTheSameMask) {
  const CpuIsa active = cpu_isa();
  for (int64_t numel : {1, 6, 31, 64, 67, 129, 1000, 4103, 65541}) {
    Tensor x = random_tensor({numel}, 10);
    std::vector<float> first_y, first_mask;
    for (CpuIsa isa : {CpuIsa::portable, CpuIsa::avx2, CpuIsa::avx512}) {
      if (!cpu_isa_supported(isa)) continue;
      set_cpu_isa(isa);
      Generator gen(0x0123456789ABCDEFull);
      gen.reserve((uint64_t{1} << 32) - 40);
      Tensor y, mask;
      dropout_forward(x, 0.3f, gen, y, mask);
      if (first_mask.empty()) {
        first_y = y.to_vector();
        first_mask = mask.to_vector();
        continue;
      }
      EXPECT_EQ(mask.to_vector(), first_mask) << cpu_isa_name(isa) << " " << numel;
      EXPECT_EQ(y.to_vector(), first_y) << cpu_isa_name(isa) << " " << numel;
    }
  }
  set_cpu_isa(active);
}

TEST(Dropout, KeptFractionAndMaskValues) {
  Tensor x = random_tensor(kShape, 4);
  for (float p : {0.1f, 0.25f, 0.5f, 0.9f}) {
    Generator gen(11);
    Tensor y, mask;
    dropout_forward(x, p, gen, y, mask);
    const float scale = 1.0f / (1.0f - p);
    int64_t kept = 0;
    for (float m : mask.to_vector()) {
      ASSERT_TRUE(m == 0.0f || m == scale) << m;
      kept += m != 0.0f;
    }
    // 65536 Bernoulli draws: the fraction's standard deviation is at most 0.002; allow 0.01.
    EXPECT_NEAR(static_cast<double>(kept) / kShape.numel(), 1.0 - p, 0.01) << p;
  }
}

TEST(Dropout, ZeroRateIsIdentity) {
  Tensor x = random_tensor({3, 5, 5, 7}, 5);
  Generator gen(12);
  Tensor y, mask;
  dropout_forward(x, 0.0f, gen, y, mask);
  EXPECT_EQ(y.to_vector(), x.to_vector());
  for (float m : mask.to_vector()) ASSERT_EQ(m, 1.0f);
  EXPECT_EQ(gen.offset(), (525u + 3) / 4);  // counters reserved as for any rate
}

TEST(Dropout, BackwardAndGradientCheck) {
  Tensor x = random_tensor({3, 5, 5, 7}, 6), w = random_tensor({3, 5, 5, 7}, 7);
  Generator gen(13);
  gen.set_state(13, 100);
  Tensor y, mask, dx;
  dropout_forward(x, 0.4f, gen, y, mask);
  dropout_backward(w, mask, dx);
  const auto wv = w.to_vector(), mv = mask.to_vector(), dv = dx.to_vector();
  for (size_t i = 0; i < wv.size(); ++i) ASSERT_EQ(dv[i], wv[i] * mv[i]);
  // Forward with the same mask: the generator is rewound to the state that produced it.
  auto forward = [&]() {
    Generator replay(13);
    replay.set_state(13, 100);
    Tensor out, m;
    dropout_forward(x, 0.4f, replay, out, m);
    return out;
  };
  EXPECT_LT(gradient_check_error(forward, x, w, dx), 1e-3);
}

TEST(Dropout, BadArgumentsThrow) {
  Tensor x = random_tensor({4, 4}, 8), y, mask, dx;
  Generator gen(1);
  EXPECT_THROW(dropout_forward(x, 1.0f, gen, y, mask), Error);
  EXPECT_THROW(dropout_forward(x, -0.1f, gen, y, mask), Error);
  EXPECT_THROW(dropout_backward(x, random_tensor({4, 5}, 9), dx), Error);
}

}  // namespace
}  // namespace keel
