// Tests of the run outputs: atomic writes (old file kept, no temporary left on failure), the
// submission / probabilities / metrics CSVs and summary.json.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "keel/error.h"
#include "keel/train/atomic_file.h"
#include "titanic/outputs.h"

namespace fs = std::filesystem;
using namespace keel::train;

namespace {

// A fresh folder per test, removed afterwards.
class OutputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("keel_outputs_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_))
      names.push_back(e.path().filename().string());
    return names;
  }

  fs::path dir_;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_F(OutputsTest, AtomicFileReplacesContentsOnCommit) {
  write_file_atomically(path("a.txt"), "old contents\n");
  write_file_atomically(path("a.txt"), "new\n");
  EXPECT_EQ(read_text(path("a.txt")), "new\n");
  EXPECT_EQ(entries(), std::vector<std::string>{"a.txt"});
}

TEST_F(OutputsTest, ExceptionBeforeCommitKeepsOldFileAndLeavesNoTemporary) {
  write_file_atomically(path("submission.csv"), "PassengerId,Survived\n892,1\n");
  std::string temp;
  try {
    AtomicFile file(path("submission.csv"));
    temp = file.temp_path();
    file.write("PassengerId,Survived\n892,");
    EXPECT_TRUE(fs::exists(temp)) << "the temporary should exist while writing";
    EXPECT_EQ(fs::path(temp).parent_path(), dir_) << "the temporary must sit next to the target";
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "interrupted");
  }
  EXPECT_FALSE(temp.empty());
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_EQ(read_text(path("submission.csv")), "PassengerId,Survived\n892,1\n");
  EXPECT_EQ(entries(), std::vector<std::string>{"submission.csv"});
}

TEST_F(OutputsTest, UncommittedNewFileLeavesNothingBehind) {
  {
    AtomicFile file(path("report.html"));
    file.write("<html>");
  }
  EXPECT_TRUE(entries().empty());
}

TEST_F(OutputsTest, TwoWritersGetDistinctTemporaries) {
  AtomicFile a(path("x.txt"));
  AtomicFile b(path("x.txt"));
  EXPECT_NE(a.temp_path(), b.temp_path());
  a.write("a");
  b.write("b");
  a.commit();
  b.commit();
  EXPECT_EQ(read_text(path("x.txt")), "b");
  EXPECT_EQ(entries(), std::vector<std::string>{"x.txt"});
}

TEST_F(OutputsTest, WriteIntoMissingFolderNamesThePath) {
  const std::string target = path("no_such_folder/submission.csv");
  try {
    write_file_atomically(target, "x");
    FAIL() << "expected keel::Error";
  } catch (const keel::Error& e) {
    EXPECT_EQ(e.kind(), keel::ErrorKind::runtime);
    EXPECT_NE(std::string(e.what()).find(target), std::string::npos) << e.what();
  }
}

TEST_F(OutputsTest, CreateDirectoriesMakesNestedFolders) {
  create_directories(path("out/run1/checkpoints"));
  EXPECT_TRUE(fs::is_directory(dir_ / "out/run1/checkpoints"));
  create_directories(path("out/run1/checkpoints"));  // existing folder: no error
}

TEST_F(OutputsTest, UncreatableFolderGivesErrorNamingIt) {
  // A regular file in the way cannot be made into a folder, even when running as root.
  write_file_atomically(path("blocker"), "x");
  const std::string folder = path("blocker/out");
  try {
    create_directories(folder);
    FAIL() << "expected keel::Error";
  } catch (const keel::Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.kind(), keel::ErrorKind::runtime);
    EXPECT_NE(message.find("cannot create output folder " + folder), std::string::npos) << message;
    EXPECT_NE(message.find("--out"), std::string::npos) << message;
  }
  try {
    create_directories(path("blocker"));
    FAIL() << "expected keel::Error for a file where a folder should be";
  } catch (const keel::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path("blocker")), std::string::npos) << e.what();
  }
}

TEST_F(OutputsTest, SubmissionHasHeaderAndOneIntegerRowPerPassenger) {
  const std::vector<int> ids = {892, 893, 894, 895, 896};
  const std::vector<int> labels = {0, 1, 0, 0, 1};
  write_submission(path("submission.csv"), ids, labels);
  const auto lines = read_lines(path("submission.csv"));
  ASSERT_EQ(lines.size(), ids.size() + 1);
  EXPECT_EQ(lines[0], "PassengerId,Survived");
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(lines[i + 1], std::to_string(ids[i]) + "," + std::to_string(labels[i]));
  }
}

TEST_F(OutputsTest, SubmissionRejectsBadInputWithoutTouchingOldFile) {
  write_submission(path("submission.csv"), {1}, {1});
  EXPECT_THROW(write_submission(path("submission.csv"), {1, 2}, {1}), keel::Error);
  EXPECT_THROW(write_submission(path("submission.csv"), {1, 2}, {1, 2}), keel::Error);
  EXPECT_EQ(read_text(path("submission.csv")), "PassengerId,Survived\n1,1\n");
  EXPECT_EQ(entries().size(), 1u);
}

TEST_F(OutputsTest, ProbabilitiesAreWrittenPerPassenger) {
  write_probabilities(path("probabilities.csv"), {892, 893}, {0.125, 0.9});
  const auto lines = read_lines(path("probabilities.csv"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "PassengerId,Survived_probability");
  EXPECT_EQ(lines[1], "892,0.125000");
  EXPECT_EQ(lines[2], "893,0.900000");
}

TEST_F(OutputsTest, MetricsCsvLeavesMissingValidationEmpty) {
  EpochRecord with_val{1, 0, 0.75, 0.5, 0.8, 1e-3, 0.95, 0.25};
  EpochRecord no_val;
  no_val.epoch = 2;
  no_val.train_loss = 0.5;
  no_val.lr = 2e-4;
  no_val.beta1 = 0.9;
  no_val.seconds = 0.5;
  write_metrics_csv(path("metrics.csv"), {with_val, no_val});
  const auto lines = read_lines(path("metrics.csv"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "epoch,fold,train_loss,val_loss,val_accuracy,val_error_rate,lr,beta1,seconds");
  EXPECT_EQ(lines[1], "1,0,0.75,0.5,0.8,0.2,0.001,0.95,0.25");
  EXPECT_EQ(lines[2], "2,0,0.5,,,,0.0002,0.9,0.5");
}

TEST_F(OutputsTest, SummaryJsonParsesBackWithoutCvKeysForASingleRun) {
  RunSummary s;
  s.device = "cpu";
  s.keel_version = "0.1.0";
  s.git_commit = "abc123";
  s.epochs = 30;
  s.steps = 330;
  s.train_seconds = 4.5;
  s.ms_per_step = 13.6;
  s.graph_captures = 2;
  s.graph_replays = 327;
  s.skipped_steps = 4;
  s.val_accuracy = 0.8156;
  s.val_loss = std::nan("");
  write_summary_json(path("summary.json"), s);
  const auto j = nlohmann::json::parse(read_text(path("summary.json")));
  for (const char* key : {"device", "epochs", "steps", "train_seconds", "ms_per_step",
                          "val_accuracy", "keel_version", "git_commit"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_EQ(j["epochs"], 30);
  EXPECT_EQ(j["steps"], 330);
  EXPECT_DOUBLE_EQ(j["ms_per_step"].get<double>(), 13.6);
  EXPECT_EQ(j["graph_captures"], 2);
  EXPECT_EQ(j["graph_replays"], 327);
  EXPECT_EQ(j["skipped_steps"], 4);
  EXPECT_DOUBLE_EQ(j["val_accuracy"].get<double>(), 0.8156);
  EXPECT_TRUE(j["val_loss"].is_null());
  EXPECT_EQ(j["git_commit"], "abc123");
  EXPECT_FALSE(j.contains("cv_mean"));
  EXPECT_FALSE(j.contains("cv_std"));
  EXPECT_FALSE(j.contains("fold_accuracies"));
}

TEST_F(OutputsTest, SummaryJsonHasCvKeysWhenKFoldRan) {
  RunSummary s;
  s.device = "cuda:0";
  s.has_cv = true;
  s.cv_mean = 0.81;
  s.cv_std = 0.02;
  s.cv_folds = 5;
  s.fold_accuracies = {0.8, 0.82, 0.79, 0.84, 0.8};
  write_summary_json(path("summary.json"), s);
  const auto j = nlohmann::json::parse(read_text(path("summary.json")));
  EXPECT_DOUBLE_EQ(j.at("cv_mean").get<double>(), 0.81);
  EXPECT_DOUBLE_EQ(j.at("cv_std").get<double>(), 0.02);
  EXPECT_EQ(j.at("cv_folds"), 5);
  ASSERT_EQ(j.at("fold_accuracies").size(), 5u);
  EXPECT_DOUBLE_EQ(j["fold_accuracies"][3].get<double>(), 0.84);
  EXPECT_TRUE(j["train_seconds"].is_null());
}
