// The direct filter-gradient kernel of the CUDA backend, run on the CPU: the phase bodies of
// engine/src/cuda/kernels/direct_dw_tile.h (the exact code the kernel calls) driven block by block,
// each phase for every thread before the next as the kernel's barriers order them, then the
// partials added in block order as launch_sum_parts does; against the float64 reference gradient.
// Shapes cover two channel tiles, a channel count that is not a multiple of 64, filter rows from 9
// to the full 160, strides, padding, position runs that end inside a tile and inside an image.
// Bound: 2e-5 of the largest value (fp32 sums of up to a few thousand terms per block).
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "direct_dw_tile.h"
#include "op_cases/conv_reference.h"
#include "ops/winograd_test_util.h"

namespace keel {
namespace {

namespace dd = keel::direct_dw;
using testing::ConvDims;

using Accumulators = float[dd::kPerThreadK][dd::kPerThreadJ];

// One block of the kernel: blockIdx = (bx, by).
void run_block(const dd::Problem& p, const float* x, const float* dy, int64_t chunk, int64_t bx, int64_t by,
               float* partial) {
  // Shared memory starts as garbage on a GPU: all-ones bytes (NaN floats, -1 integers) here, so a
  // read of a slot no phase wrote shows up in the result.
  auto sm = std::make_unique<dd::Smem>();
  std::memset(static_cast<void*>(sm.get()), 0xFF, sizeof(dd::Smem));
  std::vector<float> acc(static_cast<size_t>(dd::kThreads * dd::kPerThreadK * dd::kPerThreadJ), 0.0f);
  auto acc_of = [&](int t) { return reinterpret_cast<Accumulators*>(acc.data() + t * dd::kPerThreadK * dd::kPerThreadJ); };
  const int64_t k0 = by * dd::kTileK, l_begin = bx * chunk;
  const int64_t l_end = std::min(l_begin + chunk, p.positions());
  for (int t = 0; t < dd::kThreads; ++t) dd::fill_entry_table(p, t, *sm);
  for (int64_t l0 = l_begin; l0 < l_end; l0 += dd::kTileL) {
    for (int t = 0; t < dd::kThreads; ++t) dd::locate_positions(p, l0, l_end, t, *sm);
    for (int t = 0; t < dd::kThreads; ++t) {
      dd::load_dy(p, dy, k0, t, *sm);
      dd::load_patches(p, x, t, *sm);
    }
    for (int t = 0; t < dd::kThreads; ++t) dd::accumulate(*sm, t, *acc_of(t));
  }
  for (int t = 0; t < dd::kThreads; ++t) dd::store_partial(p, *acc_of(t), t, k0, partial + bx * p.k * p.crs());
}

// The whole launch: every block, then the in-order sum of the partials.
std::vector<float> direct_dw(const dd::Problem& p, const std::vector<float>& x, const std::vector<float>& dy,
                             int multiprocessors) {
  const int64_t k_tiles = (p.k + dd::kTileK - 1) / dd::kTileK;
  const dd::Split split = dd::split_positions(p.positions(), k_tiles, multiprocessors);
  const int64_t size = p.k * p.crs();
  // Poisoned: an entry no block writes shows up as NaN in the sum.
  std::vector<float> partial(static_cast<size_t>(split.blocks * size), std::nanf(""));
  for (int64_t bx = 0; bx < split.blocks; ++bx)
    for (int64_t by = 0; by < k_tiles; ++by) run_block(p, x.data(), dy.data(), split.chunk, bx, by, partial.data());
  std::vector<float> dw(static_cast<size_t>(size), 0.0f);
  for (int64_t b = 0; b < split.blocks; ++b)
    for (int64_t i = 0; i < size; ++i) dw[static_cast<size_t>(i)] += partial[static_cast<size_t>(b * size + i)];
  return dw;
}

struct Case {
  std::string name;
  ConvDims d;
  int multiprocessors;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class DirectDw : public ::testing::TestWithParam<Case> {};

TEST_P(DirectDw, MatchesTheReferenceGradient) {
  const ConvDims& d = GetParam().d;
  const dd::Problem p{d.n, d.c, d.h, d.w, d.k, d.r, d.s, d.oh(), d.ow(), d.stride, d.pad};
  ASSERT_TRUE(dd::supported(p));
  const std::vector<float> x = testing::random_values(static_cast<size_t>(d.n * d.c * d.h * d.w), 31);
  const std::vector<float> dy = testing::random_values(static_cast<size_t>(d.n * d.k * d.oh() * d.ow()), 32);
  const std::vector<float> w(static_cast<size_t>(d.k * d.c * d.r * d.s), 0.0f);
  const testing::ConvGradients ref = testing::conv2d_reference_backward(x, w, dy, d);
  const std::vector<float> got = direct_dw(p, x, dy, GetParam().multiprocessors);
  EXPECT_LT(testing::max_relative_error(got, ref.dw), 2e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, DirectDw,
    ::testing::Values(
        // The stem's shape on a small batch and plane: two channel tiles (70 = 64 + 6), CRS 147.
        Case{"stem_k70", {2, 3, 20, 18, 70, 7, 7, 2, 3}, 4},
        // Many blocks (positions split finely, runs ending inside tiles and images), CRS 45.
        Case{"c5_3x3_many_blocks", {3, 5, 9, 11, 9, 3, 3, 1, 1}, 40},
        // One block holding everything, a full 160-entry row (10 x 4 x 4), stride 3, no padding.
        Case{"crs160_one_block", {2, 10, 13, 13, 16, 4, 4, 3, 0}, 1},
        // A single position per image (1x1 output) and a 1x1 filter (CRS 9).
        Case{"one_position_per_image", {5, 9, 3, 3, 3, 1, 1, 4, 0}, 2},
        // Blocks of 6 tiles (the last block 5, its last tile part-filled), a 3x5 filter, two
        // channel tiles: 722 positions in 4 blocks of 192.
        Case{"six_tiles_per_block", {2, 4, 17, 19, 66, 3, 5, 1, 2}, 2},
        // Blocks of 5 tiles that cross image boundaries: 630 positions of 3 images in 4 blocks of 160.
        Case{"five_tiles_across_images", {3, 2, 15, 14, 8, 5, 5, 1, 2}, 1}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(DirectDwSplit, WholeTilesAboutFourBlocksPerMultiprocessor) {
  const dd::Split s = dd::split_positions(64 * 112 * 112, 1, 132);
  EXPECT_EQ(s.chunk % dd::kTileL, 0);
  EXPECT_GE(s.chunk * s.blocks, 64 * 112 * 112);
  EXPECT_LT((s.blocks - 1) * s.chunk, 64 * 112 * 112);  // no empty block
  EXPECT_LE(s.blocks, 4 * 132);  // whole tiles make blocks a little longer, so a few fewer
  EXPECT_GE(s.blocks, 3 * 132);
  const dd::Split tiny = dd::split_positions(5, 2, 132);
  EXPECT_EQ(tiny.chunk, dd::kTileL);
  EXPECT_EQ(tiny.blocks, 1);
}

TEST(DirectDwSupport, FilterRowsUpTo160) {
  EXPECT_TRUE(dd::supported({64, 3, 224, 224, 64, 7, 7, 112, 112, 2, 3}));   // ResNet's stem: 147
  EXPECT_FALSE(dd::supported({64, 64, 56, 56, 64, 3, 3, 56, 56, 1, 1}));     // 576
}

}  // namespace
}  // namespace keel
