// A run that diverges stops with exit code 3 and one paragraph (which model, epoch and step, which
// quantity, what to try), writes nothing from the diverged model, leaves an earlier submission.csv
// as it was and never overwrites a checkpoint with a non-finite state; train.on_nonfinite and
// train.grad_clip reach the run and summary.json.
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "keel/train/checkpoint.h"
#include "support/test_util.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;

#define EXPECT_HAS(haystack, needle)                               \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "missing `" << (needle) << "` in: " << (haystack)

// The flagship CNN, one model, at a learning rate and weight decay that blow up AdamW's weights
// (decoupled decay multiplies them by 1 - lr * wd = -99 at every step).
const char* kDivergent =
    "--config configs/cnn.yaml --set train.folds=0 --set train.repeats=1 --set train.epochs=2 "
    "--set optimizer.lr=10 --set optimizer.weight_decay=10 --set schedule.name=constant --set "
    "threads=1";

class Divergence : public ScratchRunTest {
 protected:
  CliResult run(const std::string& args) {
    return run_titanic_train(args + " --data " + quote(data_dir()) + " --out " + quote(out_));
  }
  // What every diverged run promises, whatever diverged.
  void expect_stopped_cleanly(const CliResult& r) {
    EXPECT_EQ(r.exit_code, 3) << r.output;
    EXPECT_HAS(r.output, "training diverged in model 1/");
    EXPECT_HAS(r.output, "Nothing was written from this run's models");
    EXPECT_HAS(r.output, "optimizer.lr (now 10)");
    EXPECT_HAS(r.output, "train.grad_clip");
    EXPECT_HAS(r.output, "train.on_nonfinite: skip_step");
    EXPECT_EQ(read_text(out_ + "/submission.csv"), kEarlierSubmission) << "the earlier submission was lost";
    for (const char* name : {"probabilities.csv", "summary.json", "metrics.csv", "report.html"}) {
      EXPECT_FALSE(exists(out_ + "/" + name)) << name << " was written from a diverged model";
    }
    EXPECT_FALSE(has_temporaries(work_)) << "a half-written file was left behind";
  }

};

TEST_F(Divergence, NaNLossStopsWithTheStepAndWhatToTry) {
  const CliResult r = run(kDivergent);
  expect_stopped_cleanly(r);
  EXPECT_HAS(r.output, "training diverged in model 1/1 at epoch 1, step ");
  EXPECT_HAS(r.output, "the training loss became NaN");
  EXPECT_HAS(r.output, "optimizer.weight_decay (now 10)");
  EXPECT_HAS(r.output, "no checkpoint had been saved yet");
  EXPECT_EQ(r.output.find("train_loss"), std::string::npos)
      << "an epoch was reported: " << r.output;
  EXPECT_FALSE(exists(out_ + "/checkpoints/last.ckpt"));
}

TEST_F(Divergence, KFoldNamesTheFold) {
  const CliResult r = run(std::string(kDivergent) + " --set train.folds=2");
  expect_stopped_cleanly(r);
  // Half the rows: the last step of epoch 1 makes the weights infinite while its loss is still
  // finite, so the epoch's weight check is what stops this run.
  EXPECT_HAS(r.output, "training diverged in model 1/2 (fold 1 of 2, repeat 1 of 1) ");
  EXPECT_HAS(r.output, "epoch 1");
}

// lr 10 with weight decay 0.5 survives the first epoch and diverges in the second: the checkpoint
// of epoch 1 stays, finite, and the diverged state of epoch 2 is never saved.
TEST_F(Divergence, TheLastFiniteCheckpointIsKept) {
  const CliResult r =
      run(std::string(kDivergent) + " --set optimizer.weight_decay=0.5 --set train.epochs=4");
  expect_stopped_cleanly(r);
  EXPECT_HAS(r.output, "at epoch 2, step ");
  EXPECT_HAS(r.output, "checkpoints/last.ckpt was not overwritten");
  const train::Checkpoint c = train::load_checkpoint(out_ + "/checkpoints/last.ckpt");
  EXPECT_EQ(c.int_at("member0.epochs_done"), 1);
  for (const auto& [name, tensor] : c.tensors) {
    for (float v : tensor.to_vector()) ASSERT_TRUE(std::isfinite(v)) << name << " holds " << v;
  }
}

// skip_step cannot repair weights that are already infinite: the epoch's weight check still stops
// the run, naming the tensor.
TEST_F(Divergence, SkipStepStillStopsOnNonFiniteWeights) {
  const CliResult r = run(std::string(kDivergent) + " --set train.on_nonfinite=skip_step");
  expect_stopped_cleanly(r);
  EXPECT_HAS(r.output, "during epoch 1: the values of ");
  EXPECT_HAS(r.output, "are no longer all finite");
  EXPECT_HAS(r.output, "skip_step (now skip_step)");
}

TEST_F(Divergence, HealthyRunReportsNoSkippedSteps) {
  const CliResult r =
      run("--config configs/small_cnn.yaml --set train.epochs=1 --set threads=1 "
          "--set train.on_nonfinite=skip_step --set train.grad_clip=1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto summary = nlohmann::json::parse(read_text(out_ + "/summary.json"));
  EXPECT_EQ(summary["skipped_steps"], 0);
  EXPECT_HAS(read_text(out_ + "/config.resolved.yaml"), "grad_clip: 1");
}

}  // namespace
}  // namespace keel::testing
