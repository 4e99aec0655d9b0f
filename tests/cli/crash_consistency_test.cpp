// Crash consistency: titanic_train is killed with SIGKILL at seeded-random moments and, through
// KEEL_PAUSE_AT (engine/src/train/pause_point.h), exactly while a checkpoint is half written or an
// output sits between its write and its rename. After every kill the earlier submission.csv must be
// intact (or replaced by the finished one), and --resume from what is on disk must either give the
// uninterrupted run's submission and probabilities bit for bit or refuse the checkpoint (exit 2).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_util.h"
#include "support/test_util.h"

extern char** environ;

namespace keel::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kTrials = 60;
constexpr const char* kEarlierSubmission = "PassengerId,Survived\n1,1\n";

// How one killed run ended.
enum class Ending { killed, finished };

class CrashConsistency : public ::testing::Test {
 protected:
  void SetUp() override { work_ = make_temp_dir(); }
  void TearDown() override { fs::remove_all(work_); }

  std::vector<std::string> arguments(const std::string& out, const std::string& resume = "") {
    std::vector<std::string> args = {program_path("titanic_train"), "--config",
                                     source_dir() + "/tests/cli/tiny_cnn.yaml", "--data",
                                     data_dir(), "--out", out, "--quiet"};
    if (!resume.empty()) args.insert(args.end(), {"--resume", resume});
    return args;
  }

  // Starts titanic_train with KEEL_PAUSE_AT=pause_at (unless empty), output into `log`.
  pid_t start(const std::vector<std::string>& args, const std::string& pause_at,
              const std::string& log) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string(*e).rfind("KEEL_PAUSE_AT=", 0) != 0) env.emplace_back(*e);
    }
    if (!pause_at.empty()) env.push_back("KEEL_PAUSE_AT=" + pause_at);
    env.emplace_back("OMP_WAIT_POLICY=passive");
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      std::vector<char*> argv, envp;
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
      argv.push_back(nullptr);
      envp.push_back(nullptr);
      ::execve(argv[0], argv.data(), envp.data());
      std::_Exit(127);
    }
    return pid;
  }

  // Runs to the end; returns the exit code.
  int run_to_end(const std::vector<std::string>& args, const std::string& log) {
    int status = 0;
    ::waitpid(start(args, "", log), &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // Kills the run `delay` after its start (or when it has finished, whichever is first).
  Ending kill_after(const std::vector<std::string>& args, std::chrono::microseconds delay,
                    const std::string& log) {
    const pid_t pid = start(args, "", log);
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFSIGNALED(status) ? Ending::killed : Ending::finished;
  }

  // Kills the run once it has stopped itself at `pause_at`; a run that never reaches that point
  // (a later hit than the run has) finishes, and must then be whole too.
  Ending kill_at(const std::vector<std::string>& args, const std::string& pause_at,
                 const std::string& log) {
    const pid_t pid = start(args, pause_at, log);
    int status = 0;
    ::waitpid(pid, &status, WUNTRACED);
    if (!WIFSTOPPED(status)) return Ending::finished;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return Ending::killed;
  }

  std::string work_;
};

TEST_F(CrashConsistency, KilledRunsResumeBitExactlyOrRefuseAndKeepTheEarlierSubmission) {
  const std::string reference = work_ + "/reference";
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(run_to_end(arguments(reference), work_ + "/reference.log"), 0)
      << read_text(work_ + "/reference.log");
  const auto run_time = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  const std::string want_submission = read_text(reference + "/submission.csv");
  const std::string want_probabilities = read_text(reference + "/probabilities.csv");
  ASSERT_FALSE(want_probabilities.empty());

  // Each point is hit on a file by name; checkpoints are written several times a run (after each
  // epoch of each fold, and for each finished fold), outputs once.
  const std::vector<std::string> points = {"mid_write", "before_rename", "after_rename"};
  const std::vector<std::string> files = {"last.ckpt", "last.ckpt", "best.ckpt", "submission.csv",
                                          "probabilities.csv", "summary.json", "metrics.csv"};
  std::mt19937 rng(13);
  std::map<std::string, int> outcomes;
  for (int trial = 0; trial < kTrials; ++trial) {
    const std::string out = work_ + "/trial" + std::to_string(trial);
    write_text(out + "/submission.csv", kEarlierSubmission);
    const std::string log = out + ".log";
    std::string how;
    Ending ending;
    if (trial % 3 == 0) {
      const auto delay = std::chrono::microseconds(
          std::uniform_int_distribution<int64_t>(0, run_time.count())(rng));
      how = "SIGKILL after " + std::to_string(delay.count()) + " us";
      ending = kill_after(arguments(out), delay, log);
    } else {
      const std::string& point = points[rng() % points.size()];
      const std::string& file = files[rng() % files.size()];
      const int nth = file.find(".ckpt") != std::string::npos ? 1 + static_cast<int>(rng() % 8) : 1;
      how = "SIGKILL at " + point + ":" + file + ":" + std::to_string(nth);
      ending = kill_at(arguments(out), point + ":" + file + ":" + std::to_string(nth), log);
    }
    SCOPED_TRACE("trial " + std::to_string(trial) + ": " + how);

    const std::string submission = read_text(out + "/submission.csv");
    EXPECT_TRUE(submission == kEarlierSubmission || submission == want_submission)
        << "submission.csv was damaged:\n" << submission.substr(0, 200);
    if (ending == Ending::finished) {
      EXPECT_EQ(submission, want_submission) << read_text(log);
      ++outcomes["finished before the kill"];
      continue;
    }
    const std::string checkpoint = out + "/checkpoints/last.ckpt";
    if (!exists(checkpoint)) {
      ++outcomes["killed before the first checkpoint"];
      continue;
    }
    const std::string resume_log = out + ".resume.log";
    const int code = run_to_end(arguments(out, checkpoint), resume_log);
    if (code == 2 && read_text(resume_log).find("checkpoint") != std::string::npos) {
      ++outcomes["resume refused the checkpoint (exit 2)"];
      continue;
    }
    ASSERT_EQ(code, 0) << read_text(resume_log);
    EXPECT_EQ(read_text(out + "/submission.csv"), want_submission);
    EXPECT_EQ(read_text(out + "/probabilities.csv"), want_probabilities);
    ++outcomes["resumed, bit-exact"];
  }
  for (const auto& [what, count] : outcomes) std::printf("  %3d  %s\n", count, what.c_str());
  EXPECT_GE(outcomes["resumed, bit-exact"], kTrials / 2) << "too few kills left a checkpoint";
}

}  // namespace
}  // namespace keel::testing
