// keel::dist's collectives: on the single-process backend in this test process, and through MPI
// with dist_probe on 2 and 3 ranks; a rank that leaves early ends the whole job instead of leaving
// the others waiting in a collective.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/dist.h"
#include "mpi_util.h"

namespace keel::testing {
namespace {

size_t count_of(const std::string& text, const std::string& word) {
  size_t count = 0;
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++count;
  return count;
}

// This test program is not started by mpirun: it is a job of one on the single backend.
TEST(SingleProcess, CollectivesLeaveTheDataAsItIs) {
  int argc = 0;
  char** argv = nullptr;
  dist::init(&argc, &argv);
  EXPECT_STREQ(dist::backend_name(), "single");
  EXPECT_EQ(dist::rank(), 0);
  EXPECT_EQ(dist::world_size(), 1);
  std::vector<float> values{1.5f, -2.0f, 3.25f};
  dist::all_reduce(std::span<float>(values), dist::Reduce::sum);
  dist::all_reduce(std::span<float>(values), dist::Reduce::mean);
  dist::broadcast(std::span<float>(values), 0);
  EXPECT_EQ(values, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  EXPECT_TRUE(dist::any(true));
  EXPECT_FALSE(dist::any(false));
  EXPECT_EQ(dist::gather("bytes", 0), std::vector<std::string>{"bytes"});
  dist::barrier();
}

TEST(Mpi, CollectivesGiveExactResultsOnTwoAndThreeRanks) {
  KEEL_SKIP_WITHOUT_MPI();
  for (int ranks : {2, 3}) {
    const CliResult r = run_mpi(ranks, "dist_probe", "", 120);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(count_of(r.output, "(mpi): ok"), static_cast<size_t>(ranks)) << r.output;
  }
}

TEST(Mpi, ARankThatExitsEndsEveryRankWithAMessage) {
  KEEL_SKIP_WITHOUT_MPI();
  for (int ranks : {2, 3}) {
    // The others wait in the first broadcast for the rank that left: without the launcher
    // ending the job they would wait forever, and the time limit (exit 124) would say so.
    const CliResult r = run_mpi(ranks, "dist_probe", "--exit-on-rank 1", 60);
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.exit_code, 124) << "the job hung until the time limit:\n" << r.output;
    EXPECT_NE(r.output.find("leaving without a word"), std::string::npos) << r.output;
    EXPECT_EQ(count_of(r.output, ": ok"), 0u) << r.output;
  }
}

}  // namespace
}  // namespace keel::testing
