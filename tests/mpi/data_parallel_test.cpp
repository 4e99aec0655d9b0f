// Data-parallel training under mpirun (dist.mode: data): the weights after training with a global
// batch B on 1, 2 and 3 processes against the single-process run with batch B, and a resume on
// another world size. tests/mpi/dp_cnn.yaml has batch norm (synchronised), dropout and
// augmentation, so the shared-out random streams are part of what is compared.
//
// Tolerance. Each rank's gradient is the sum over its rows scaled by its share of the batch, and
// the all-reduce adds the ranks' sums: the same terms as one process, added in another order, so
// each step's gradient differs by float rounding (~1e-7 relative); synchronised batch norm sums its
// statistics in double. We allow |a - b| <= 1e-6 (1 + |a|) after 42 AdamW steps: measured 3e-8 on
// 2 and 3 ranks (notes/distributed.md), while local batch-norm statistics, a wrong shard, mask or
// scale move the weights by 1e-3 and more. The model has no convolution bias before its batch norm:
// that bias's true gradient is zero, so Adam (g / sqrt(v)) turns its rounding noise into
// learning-rate-sized steps that differ with any change of summation order, in one process too.
// With one rank nothing is reordered, and the weights are equal bit for bit.
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/train/checkpoint.h"
#include "mpi_util.h"
#include "support/test_util.h"

namespace keel::testing {
namespace {

constexpr const char* kConfig = "--config tests/mpi/dp_cnn.yaml --quiet";

std::map<std::string, std::vector<float>> final_weights(const std::string& out) {
  const train::Checkpoint c = train::load_checkpoint(out + "/checkpoints/last.ckpt");
  std::map<std::string, std::vector<float>> weights;
  for (const auto& [key, tensor] : c.tensors) {
    if (key.rfind("model0.", 0) == 0) weights[key] = tensor.to_vector();
  }
  return weights;
}

struct Difference {
  double worst = 0.0;  // max |a - b| / (1 + |a|)
  std::string where;
  bool same_bits = true;
};

Difference compare(const std::map<std::string, std::vector<float>>& a,
                   const std::map<std::string, std::vector<float>>& b) {
  Difference d;
  EXPECT_EQ(a.size(), b.size());
  for (const auto& [key, values] : a) {
    const auto other = b.find(key);
    if (other == b.end() || other->second.size() != values.size()) {
      ADD_FAILURE() << key << " is missing or has another size";
      continue;
    }
    for (size_t i = 0; i < values.size(); ++i) {
      const double x = values[i], y = other->second[i];
      d.same_bits = d.same_bits && std::memcmp(&values[i], &other->second[i], sizeof(float)) == 0;
      const double rel = std::abs(x - y) / (1.0 + std::abs(x));
      if (rel > d.worst) {
        d.worst = rel;
        d.where = key + "[" + std::to_string(i) + "]";
      }
    }
  }
  return d;
}

class DataParallel : public ::testing::Test {
 protected:
  void SetUp() override {
    KEEL_SKIP_WITHOUT_MPI();
    work_ = make_temp_dir();
  }
  std::string train_single(const std::string& name, const std::string& extra = "") {
    const std::string out = work_ + "/" + name;
    const CliResult r = run_titanic_train(std::string(kConfig) + " --data " + quote(data_dir()) +
                                          " --out " + quote(out) + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return out;
  }
  std::string train_mpi(int ranks, const std::string& name, const std::string& extra = "") {
    const std::string out = work_ + "/" + name;
    const CliResult r =
        run_mpi(ranks, "titanic_train", std::string(kConfig) + " --out " + quote(out) + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return out;
  }
  std::string work_;
};

constexpr double kTolerance = 1e-6;

TEST_F(DataParallel, OneRankUnderMpirunGivesTheSingleProcessWeightsBitForBit) {
  const Difference d =
      compare(final_weights(train_single("single")), final_weights(train_mpi(1, "one")));
  EXPECT_TRUE(d.same_bits) << "largest difference " << d.worst << " at " << d.where;
}

TEST_F(DataParallel, TwoAndThreeRanksMatchTheSingleProcessBatchWithinFloatRounding) {
  const auto single = final_weights(train_single("single"));
  for (int ranks : {2, 3}) {
    const Difference d =
        compare(single, final_weights(train_mpi(ranks, "np" + std::to_string(ranks))));
    std::printf("np %d: largest relative weight difference %.3g at %s\n", ranks, d.worst,
                d.where.c_str());
    EXPECT_LE(d.worst, kTolerance) << ranks << " ranks, at " << d.where;
  }
}

TEST_F(DataParallel, RepeatedRunsOnTwoRanksAreBitIdentical) {
  const Difference d = compare(final_weights(train_mpi(2, "a")), final_weights(train_mpi(2, "b")));
  EXPECT_TRUE(d.same_bits) << "largest difference " << d.worst << " at " << d.where;
}

// Without synchronised statistics each rank normalises with its own share: a different model from
// the single-process one (as in PyTorch's DDP), which the comparison must be able to see.
TEST_F(DataParallel, LocalBatchNormStatisticsAreVisiblyDifferent) {
  const std::string local = " --set train.sync_batch_norm=false";
  const Difference d = compare(final_weights(train_single("single", local)),
                               final_weights(train_mpi(2, "np2", local)));
  std::printf("local statistics: largest relative weight difference %.3g at %s\n", d.worst,
              d.where.c_str());
  EXPECT_GT(d.worst, 100 * kTolerance);
}

TEST_F(DataParallel, StoppedOnTwoRanksResumesOnThree) {
  const auto single = final_weights(train_single("single"));
  const std::string out = train_mpi(2, "resumed", " --set train.stop_after_epochs=1");
  const CliResult r = run_mpi(3, "titanic_train",
                              std::string(kConfig) + " --out " + quote(out) + " --resume " +
                                  quote(out + "/checkpoints/last.ckpt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Difference d = compare(single, final_weights(out));
  EXPECT_LE(d.worst, kTolerance) << "at " << d.where;
}

TEST_F(DataParallel, RefusesABatchTheWorldSizeDoesNotDivide) {
  const CliResult r =
      run_mpi(3, "titanic_train",
              std::string(kConfig) + " --set train.batch_size=64 --out " + quote(work_ + "/bad"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("does not split evenly over 3 processes"), std::string::npos) << r.output;
}

TEST_F(DataParallel, RefusesMixup) {
  const CliResult r =
      run_mpi(2, "titanic_train",
              std::string(kConfig) + " --set train.mixup=0.4 --out " + quote(work_ + "/bad"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("train.mixup"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace keel::testing
