// A full disk: titanic_train writes into a small private tmpfs (mounted in a user and mount
// namespace, `unshare -rm`, so no privileges are needed) that is full from the start or fills up
// during the run. The run must fail with a message naming the file it could not write, exit
// non-zero and leave the earlier submission.csv as it was. Where namespaces are not allowed there
// is no honest way to make a disk full, and the test skips and says why.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "cli/cli_util.h"
#include "support/test_util.h"

namespace keel::testing {
namespace {

constexpr const char* kEarlierSubmission = "PassengerId,Survived\n1,1\n";

// Runs a bash script, returning its output (stdout and stderr) and exit code.
CliResult run_bash(const std::string& script) {
  CliResult result;
  FILE* pipe = ::popen(("bash -c " + quote(script) + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

class DiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    const CliResult probe = run_bash("unshare -rm sh -c 'mount -t tmpfs -o size=64k tmpfs " +
                                     quote(make_temp_dir()) + "'");
    if (probe.exit_code != 0) {
      GTEST_SKIP() << "cannot make a full disk here: mounting a private tmpfs with `unshare -rm` "
                      "(user and mount namespaces) is not allowed: "
                   << probe.output;
    }
    work_ = make_temp_dir();
  }
  void TearDown() override {
    if (!work_.empty()) std::filesystem::remove_all(work_);
  }

  // Mounts a tmpfs of `size_kib` at work_/disk, puts the earlier submission into out/, fills the
  // disk but `free_kib` KiB, trains there, then prints what is left, all inside the namespace.
  CliResult train_on_a_small_disk(int size_kib, int free_kib) {
    const std::string disk = work_ + "/disk";
    const std::string script =
        "set -u; mkdir -p " + quote(disk) + " && mount -t tmpfs -o size=" +
        std::to_string(size_kib) + "k tmpfs " + quote(disk) + " || exit 90\n" +
        "mkdir -p " + quote(disk + "/out") + "; printf '" + "PassengerId,Survived\\n1,1\\n" +
        "' > " + quote(disk + "/out/submission.csv") + "\n" +
        "cat /dev/zero > " + quote(disk + "/filler") + " 2>/dev/null; truncate -s -" +
        std::to_string(free_kib) + "k " + quote(disk + "/filler") + "\n" +
        "cd " + quote(source_dir()) + " && OMP_WAIT_POLICY=passive " +
        quote(program_path("titanic_train")) + " --config tests/cli/tiny_cnn.yaml --data " +
        quote(data_dir()) + " --out " + quote(disk + "/out") + " --quiet\n" +
        "echo \"exit=$?\"\n" +
        "echo '--- submission.csv'; cat " + quote(disk + "/out/submission.csv") + "\n" +
        "echo '--- files'; find " + quote(disk + "/out") + " -type f\n";
    return run_bash("unshare -rm bash -c " + quote(script));
  }

  static std::string after(const std::string& text, const std::string& marker) {
    const size_t at = text.find(marker);
    return at == std::string::npos ? std::string() : text.substr(at + marker.size());
  }

  void expect_failed_cleanly(const CliResult& r, const std::string& file) {
    SCOPED_TRACE(r.output);
    ASSERT_NE(r.output.find("exit="), std::string::npos);
    EXPECT_EQ(r.output.find("exit=0"), std::string::npos) << "a run on a full disk succeeded";
    EXPECT_NE(r.output.find("exit=3"), std::string::npos);
    EXPECT_NE(r.output.find("cannot write"), std::string::npos);
    EXPECT_NE(r.output.find(file), std::string::npos) << "the message does not name " << file;
    EXPECT_NE(r.output.find("No space left on device"), std::string::npos);
    const std::string submission = after(r.output, "--- submission.csv\n");
    EXPECT_EQ(submission.substr(0, submission.find("---")), kEarlierSubmission);
    EXPECT_EQ(after(r.output, "--- files").find(".tmp-"), std::string::npos)
        << "a temporary was left behind";
  }

  std::string work_;
};

TEST_F(DiskFull, FullFromTheStartNamesTheFirstFileAndKeepsTheSubmission) {
  expect_failed_cleanly(train_on_a_small_disk(256, 0), "config.resolved.yaml");
}

TEST_F(DiskFull, FillingUpDuringTrainingNamesTheCheckpoint) {
  // Room for the resolved config (2 KB) but not for a checkpoint (about 16 KB).
  expect_failed_cleanly(train_on_a_small_disk(256, 8), ".ckpt");
}

}  // namespace
}  // namespace keel::testing
