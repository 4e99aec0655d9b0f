// Fold-parallel ensembles under mpirun (dist.mode: folds): ranks train whole models, rank 0 adds
// their probabilities in model order, so submission.csv and probabilities.csv are the
// single-process run's bytes on 2 and 3 processes, and --predict works from the gathered
// checkpoint.
#include <string>

#include <gtest/gtest.h>

#include "mpi_util.h"
#include "support/test_util.h"

namespace keel::testing {
namespace {

// tiny_cnn.yaml: 2 folds; repeats 2 makes 4 models, which 3 ranks share unevenly.
constexpr const char* kConfig =
    "--config tests/cli/tiny_cnn.yaml --set train.repeats=2 --set output.report=false --quiet";

// metrics.csv without its last column, the epochs' wall times.
std::string without_seconds(const std::string& csv) {
  std::string out;
  size_t begin = 0;
  while (begin < csv.size()) {
    const size_t end = csv.find('\n', begin);
    const std::string line = csv.substr(begin, end - begin);
    out += line.substr(0, line.rfind(',')) + "\n";
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return out;
}

class FoldParallel : public ::testing::Test {
 protected:
  void SetUp() override {
    KEEL_SKIP_WITHOUT_MPI();
    work_ = make_temp_dir();
  }
  std::string work_;
};

TEST_F(FoldParallel, SubmissionIsBitIdenticalToTheSingleProcessRun) {
  const std::string single = work_ + "/single";
  const CliResult base = run_titanic_train(std::string(kConfig) + " --data " + quote(data_dir()) +
                                           " --out " + quote(single));
  ASSERT_EQ(base.exit_code, 0) << base.output;
  for (int ranks : {2, 3}) {
    const std::string out = work_ + "/np" + std::to_string(ranks);
    const CliResult r =
        run_mpi(ranks, "titanic_train", std::string(kConfig) + " --out " + quote(out));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(read_text(out + "/submission.csv"), read_text(single + "/submission.csv")) << ranks;
    EXPECT_EQ(read_text(out + "/probabilities.csv"), read_text(single + "/probabilities.csv"))
        << ranks;
    EXPECT_EQ(without_seconds(read_text(out + "/metrics.csv")),
              without_seconds(read_text(single + "/metrics.csv")))
        << ranks;
  }
}

TEST_F(FoldParallel, TheGatheredCheckpointPredictsTheSameSubmission) {
  const std::string out = work_ + "/np2";
  ASSERT_EQ(run_mpi(2, "titanic_train", std::string(kConfig) + " --out " + quote(out)).exit_code,
            0);
  const std::string predicted = work_ + "/predicted";
  const CliResult r =
      run_titanic_train(std::string(kConfig) + " --data " + quote(data_dir()) + " --out " +
                        quote(predicted) + " --predict " + quote(out + "/checkpoints/last.ckpt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_text(predicted + "/submission.csv"), read_text(out + "/submission.csv"));
}

TEST_F(FoldParallel, RefusesASingleModel) {
  const CliResult r = run_mpi(2, "titanic_train",
                              std::string(kConfig) +
                                  " --set train.folds=0 --set train.repeats=1 "
                                  "--set dist.mode=folds --out " +
                                  quote(work_ + "/bad"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("this run trains one model"), std::string::npos) << r.output;
}

TEST_F(FoldParallel, RefusesToStopEarly) {
  const CliResult r = run_mpi(
      2, "titanic_train",
      std::string(kConfig) + " --set train.stop_after_epochs=1 --out " + quote(work_ + "/bad"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("cannot stop early or resume"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace keel::testing
