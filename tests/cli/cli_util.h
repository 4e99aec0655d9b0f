// Helpers for tests that run the titanic_train program itself: run it with arguments, capture
// its output and exit code, make scratch folders, and look for half-written files.
#pragma once

#include <string>

#include <gtest/gtest.h>

namespace keel::testing {

struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs build/bin/<program> (KEEL_BIN_DIR) with a shell-quoted argument string, in the source tree.
CliResult run_program(const std::string& program, const std::string& args);
inline CliResult run_titanic_train(const std::string& args) { return run_program("titanic_train", args); }

std::string program_path(const std::string& program);
std::string source_dir();            // KEEL_SOURCE_DIR
std::string make_temp_dir();         // a fresh folder under the system temp folder
void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);
bool exists(const std::string& path);
// True when any file below `dir` has a temporary name (".tmp-"): a write that was not finished.
bool has_temporaries(const std::string& dir);
std::string quote(const std::string& s);  // for the shell

// A run of titanic_train in scratch folders: work_/data holds copies of the Kaggle CSVs to edit,
// and work_/out an earlier run's submission.csv (kEarlierSubmission), which a failing run must
// leave as it was.
class ScratchRunTest : public ::testing::Test {
 protected:
  static constexpr const char* kEarlierSubmission = "PassengerId,Survived\n1,1\n";
  void SetUp() override;
  void TearDown() override;

  std::string work_, out_, data_;
};

}  // namespace keel::testing
