// precision: fp16 and bf16 end to end on the small CNN (configs/small_cnn.yaml, the Kaggle data):
// the emulated runs reach the fp32 run's validation accuracy and their training-loss curves track
// its curve; a forced overflow is skipped, counted in summary.json and trained through; the key is
// refused with a clear message where it is not available (cuda) or not a format.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "support/test_util.h"

namespace keel::testing {
namespace {

#define EXPECT_HAS(haystack, needle)                               \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "missing `" << (needle) << "` in: " << (haystack)

// Tolerances (notes/mixed-precision.md): 0.02 of validation accuracy is 3.6 of the 179 held-out
// passengers; the epoch losses may drift apart by 6% of the fp32 value at any epoch and by 2% on
// average, since rounding operands to 11 (fp16) or 8 (bf16) significant bits changes every
// update slightly and 330 steps of AdamW compound it.
constexpr double kAccuracyTolerance = 0.02;
constexpr double kEpochLossTolerance = 0.06;
constexpr double kMeanLossTolerance = 0.02;

struct TrainedRun {
  nlohmann::json summary;
  std::vector<double> train_loss;  // per epoch, from metrics.csv
};

class MixedPrecisionRun : public ScratchRunTest {
 protected:
  TrainedRun train(const std::string& precision, const std::string& extra = "") {
    const std::string out = out_ + "/" + precision;
    const CliResult r =
        run_titanic_train("--config configs/small_cnn.yaml --quiet --data " + quote(data_dir()) +
                          " --out " + quote(out) + " --set precision=" + precision +
                          " --set threads=1 --set output.report=false" + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    TrainedRun run;
    run.summary = nlohmann::json::parse(read_text(out + "/summary.json"));
    std::istringstream metrics(read_text(out + "/metrics.csv"));
    std::string line;
    std::getline(metrics, line);  // header: epoch,fold,train_loss,...
    while (std::getline(metrics, line)) {
      const size_t first = line.find(','), second = line.find(',', first + 1);
      run.train_loss.push_back(std::stod(line.substr(second + 1)));
    }
    return run;
  }

  static void expect_tracks(const TrainedRun& reduced, const TrainedRun& fp32, const char* name) {
    const double accuracy = reduced.summary["val_accuracy"],
                 reference = fp32.summary["val_accuracy"];
    EXPECT_NEAR(accuracy, reference, kAccuracyTolerance) << name;
    ASSERT_EQ(reduced.train_loss.size(), fp32.train_loss.size()) << name;
    double total = 0.0;
    for (size_t e = 0; e < fp32.train_loss.size(); ++e) {
      const double drift =
          std::abs(reduced.train_loss[e] - fp32.train_loss[e]) / fp32.train_loss[e];
      EXPECT_LE(drift, kEpochLossTolerance) << name << ", epoch " << e + 1;
      total += drift;
    }
    EXPECT_LE(total / static_cast<double>(fp32.train_loss.size()), kMeanLossTolerance) << name;
  }
};

TEST_F(MixedPrecisionRun, Fp16AndBf16TrackFp32) {
  const TrainedRun fp32 = train("fp32");
  const TrainedRun fp16 = train("fp16");
  const TrainedRun bf16 = train("bf16");
  expect_tracks(fp16, fp32, "fp16");
  expect_tracks(bf16, fp32, "bf16");
  EXPECT_EQ(fp32.summary["precision"], "fp32");
  EXPECT_EQ(fp16.summary["precision"], "fp16");
  EXPECT_TRUE(fp32.summary["loss_scale"].is_null());
  EXPECT_TRUE(bf16.summary["loss_scale"].is_null()) << "bf16 needs no loss scaling";
  EXPECT_EQ(fp16.summary["loss_scale_skipped_steps"], 0);
  EXPECT_EQ(fp16.summary["loss_scale"], 65536.0) << "330 steps: no growth within 2000";
  EXPECT_NE(fp16.train_loss, fp32.train_loss) << "the fp16 run must differ from fp32 at all";
}

// From the largest allowed scale the first steps overflow: each is skipped and halves the scale,
// summary.json counts them, and the run still reaches fp32's accuracy.
TEST_F(MixedPrecisionRun, ForcedOverflowIsSkippedCountedAndRecovers) {
  const TrainedRun fp32 = train("fp32");
  const TrainedRun forced = train("fp16", " --set train.loss_scale=16777216");
  const int64_t skipped = forced.summary["loss_scale_skipped_steps"];
  const double scale = forced.summary["loss_scale"];
  EXPECT_GT(skipped, 0);
  EXPECT_LT(skipped, 24) << "24 halvings reach the minimum of 1";
  EXPECT_EQ(scale, 16777216.0 / std::exp2(static_cast<double>(skipped)));
  EXPECT_EQ(forced.summary["skipped_steps"], 0) << "overflows are not the non-finite guard's";
  EXPECT_EQ(forced.summary["steps"], fp32.summary["steps"]);
  EXPECT_NEAR(static_cast<double>(forced.summary["val_accuracy"]),
              static_cast<double>(fp32.summary["val_accuracy"]), kAccuracyTolerance);
}

TEST_F(MixedPrecisionRun, CudaIsRefusedWithWhatToDo) {
  const CliResult r =
      run_titanic_train("--config configs/small_cnn.yaml --device cuda --data " +
                        quote(data_dir()) + " --out " + quote(out_) + " --set precision=fp16");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_HAS(r.output, "precision: fp16 is not available on cuda yet");
  EXPECT_HAS(r.output, "--device cpu");
  EXPECT_EQ(read_text(out_ + "/submission.csv"), kEarlierSubmission);
}

TEST_F(MixedPrecisionRun, UnknownFormatIsRefused) {
  const CliResult r =
      run_titanic_train("--config configs/small_cnn.yaml --data " + quote(data_dir()) + " --out " +
                        quote(out_) + " --set precision=fp8");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_HAS(r.output, "fp32, fp16, bf16");
}

}  // namespace
}  // namespace keel::testing
