// titanic_train on layer lists that do not fit the images and on CSVs with harmless differences:
// a model PyTorch would refuse stops before training (exit 2, naming the layer and its shapes) and
// leaves an earlier submission.csv alone; blank lines, unused columns and CRLF files train, while a
// duplicated or missing column still stops with its line and column.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_util.h"
#include "support/test_util.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;

// One model of one epoch on one thread: enough to show that a run goes through.
const char* kQuickRun = "--set train.epochs=1 --set train.folds=0 --set train.repeats=1 --set threads=1";

class ShapeAndCsv : public ScratchRunTest {
 protected:
  // Runs the flagship config (5x5 images) on the scratch data and output folders.
  CliResult run(const std::string& config = "configs/cnn.yaml", const std::string& extra = "") {
    return run_titanic_train("--config " + quote(config) + " --data " + quote(data_) + " --out " +
                             quote(out_) + " " + kQuickRun + " " + extra);
  }
  // The flagship config with `from` replaced by `to`, written as <work>/shapes.yaml.
  std::string edited_cnn_config(const std::string& from, const std::string& to) {
    std::string text = read_text(source_dir() + "/configs/cnn.yaml");
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    const std::string path = work_ + "/shapes.yaml";
    write_text(path, text);
    return path;
  }
  void edit_data(const std::string& file, const std::string& from, const std::string& to) {
    std::string text = read_text(data_ + "/" + file);
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    write_text(data_ + "/" + file, text);
  }
  // Appends `header_cell` to the header and `cell` to every row of a scratch CSV.
  void add_column(const std::string& file, const std::string& header_cell, const std::string& cell) {
    const std::string text = read_text(data_ + "/" + file);
    std::string out;
    bool header = true;
    for (size_t start = 0, end; start < text.size(); start = end + 1) {
      end = text.find("\r\n", start);
      if (end == std::string::npos) end = text.size();
      out += text.substr(start, end - start) + "," + (header ? header_cell : cell) + "\r\n";
      header = false;
      ++end;  // past the '\n' of "\r\n"
    }
    write_text(data_ + "/" + file, out);
  }
  void expect_contains(const CliResult& r, const std::vector<std::string>& phrases) {
    for (const std::string& p : phrases) {
      EXPECT_NE(r.output.find(p), std::string::npos) << "missing `" << p << "` in: " << r.output;
    }
  }
  // A refusal: the exit code, the phrases, no half-written file and the earlier submission intact.
  void expect_clean_failure(const CliResult& r, const std::vector<std::string>& phrases) {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    expect_contains(r, phrases);
    EXPECT_EQ(r.output.find("train_loss"), std::string::npos) << "training started: " << r.output;
    EXPECT_FALSE(has_temporaries(work_)) << "a half-written file was left behind";
    EXPECT_EQ(read_text(out_ + "/submission.csv"), kEarlierSubmission) << "the earlier submission was lost";
  }
  // A run that went through: a fresh submission for all 418 test passengers.
  void expect_trained(const CliResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_FALSE(has_temporaries(work_)) << "a half-written file was left behind";
    const std::string submission = read_text(out_ + "/submission.csv");
    EXPECT_EQ(submission.rfind("PassengerId,Survived\n", 0), 0u) << submission.substr(0, 80);
    EXPECT_EQ(std::count(submission.begin(), submission.end(), '\n'), 419) << r.output;
  }

};

// ---- shapes ---------------------------------------------------------------------------------------

TEST_F(ShapeAndCsv, MaxPoolKernelNineOnFiveByFiveImages) {
  const CliResult r = run(edited_cnn_config("max_pool: {kernel: 2}", "max_pool: {kernel: 9}"));
  expect_clean_failure(r, {"shapes.yaml:", "model.layers[6] (max_pool)", "input 32x5x5",
                           "output would be 32x0x0, empty", "kernel 9 is larger than the padded input 5x5"});
}

TEST_F(ShapeAndCsv, ConvKernelLargerThanThePaddedImage) {
  const CliResult r = run(edited_cnn_config("conv2d: {out: 16, kernel: 3, padding: 1}",
                                            "conv2d: {out: 16, kernel: 9, padding: 1}"));
  expect_clean_failure(r, {"model.layers[0] (conv2d)", "input 1x5x5", "output would be 16x0x0",
                           "padded input 7x7"});
}

TEST_F(ShapeAndCsv, StrideThatLeavesTheNextLayerAnEmptyOutput) {
  // Stride 8 makes 5x5 into 1x1; the 2x2 max pool two convolutions later has nothing to pool.
  const CliResult r = run(edited_cnn_config("conv2d: {out: 16, kernel: 3, padding: 1}",
                                            "conv2d: {out: 16, kernel: 3, padding: 1, stride: 8}"));
  expect_clean_failure(r, {"model.layers[6] (max_pool)", "input 32x1x1", "output would be 32x0x0"});
}

TEST_F(ShapeAndCsv, AdaptivePoolLargerThanItsInputTrainsAsInPyTorch) {
  // The 2x2 map after the max pool is spread over 4x4 cells, as torch's adaptive pools allow.
  expect_trained(run(edited_cnn_config("adaptive_avg_pool: {size: 1}", "adaptive_avg_pool: {size: 4}")));
}

TEST_F(ShapeAndCsv, TheFlagshipConfigStillTrains) {
  const CliResult r = run();
  expect_trained(r);
  EXPECT_EQ(r.output.find("note:"), std::string::npos) << "the Kaggle files need no note: " << r.output;
}

TEST_F(ShapeAndCsv, FeaturesOnlyBuildsNoModelSoAnUnfitModelDoesNotMatter) {
  const std::string config = edited_cnn_config("max_pool: {kernel: 2}", "max_pool: {kernel: 9}");
  const CliResult r = run(config, "--features-only");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(exists(out_ + "/titanic_train_wrangled.csv")) << r.output;
  EXPECT_EQ(read_text(out_ + "/submission.csv"), kEarlierSubmission);
}

// ---- CSV ------------------------------------------------------------------------------------------

TEST_F(ShapeAndCsv, TrailingBlankLinesInTrainCsv) {
  write_text(data_ + "/train.csv", read_text(data_ + "/train.csv") + "\r\n   \r\n\r");
  expect_trained(run());
}

TEST_F(ShapeAndCsv, BlankLinesBetweenRows) {
  edit_data("train.csv", "\r\n5,0,3,", "\r\n\r\n \t\r\n5,0,3,");
  edit_data("test.csv", "\r\n900,", "\r\n\r\n900,");
  expect_trained(run());
}

TEST_F(ShapeAndCsv, UnusedColumnInBothFilesIsIgnoredWithANote) {
  add_column("train.csv", "Lifeboat", "13");
  add_column("test.csv", "Lifeboat", "");
  const CliResult r = run();
  expect_trained(r);
  expect_contains(r, {"note: " + data_ + "/train.csv: ignored 1 column the pipeline does not use: "
                      "\"Lifeboat\" (column 13)",
                      "note: " + data_ + "/test.csv: ignored 1 column the pipeline does not use: "
                      "\"Lifeboat\" (column 12)"});
}

TEST_F(ShapeAndCsv, DuplicateHeaderNameNamesTheColumn) {
  edit_data("train.csv", ",Cabin,", ",Age,");
  expect_clean_failure(run(), {"train.csv, line 1, column 11", "column \"Age\" appears twice",
                               "first as column 6"});
}

TEST_F(ShapeAndCsv, MissingRequiredColumn) {
  edit_data("test.csv", ",Ticket,", ",Tick,");
  expect_clean_failure(run(), {"test.csv, line 1", "no column \"Ticket\""});
}

TEST_F(ShapeAndCsv, CrlfAndLfFilesBothTrain) {
  // The Kaggle train.csv ends its lines with CRLF; test.csv is given LF line ends here.
  std::string test = read_text(data_ + "/test.csv");
  test.erase(std::remove(test.begin(), test.end(), '\r'), test.end());
  write_text(data_ + "/test.csv", test);
  ASSERT_NE(read_text(data_ + "/train.csv").find("\r\n"), std::string::npos);
  expect_trained(run());
}

}  // namespace
}  // namespace keel::testing
