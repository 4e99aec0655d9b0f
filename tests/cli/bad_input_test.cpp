// Bad input to titanic_train, across CSV, config, checkpoint and flags: each case checks the exit
// code, that the message names the problem and what to do, that no half-written file is left, and
// that an output the user already had (a previous submission.csv) is untouched.
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "cli/cli_util.h"
#include "keel/runtime.h"
#include "support/test_util.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;

const char* kSmallRun = "--set train.epochs=1 --set threads=1 --quiet";

class BadInput : public ScratchRunTest {
 protected:
  // Runs with the small config on the scratch data and output folders.
  CliResult run(const std::string& extra, const std::string& config = "configs/small_cnn.yaml") {
    return run_titanic_train("--config " + quote(config) + " --data " + quote(data_) + " --out " +
                             quote(out_) + " " + extra);
  }
  // The common promise of every bad-input case.
  void expect_clean_failure(const CliResult& r, int code, const std::vector<std::string>& phrases) {
    EXPECT_EQ(r.exit_code, code) << r.output;
    for (const std::string& p : phrases) EXPECT_NE(r.output.find(p), std::string::npos) << "missing `" << p << "` in: " << r.output;
    EXPECT_FALSE(has_temporaries(work_)) << "a half-written file was left behind";
    EXPECT_EQ(read_text(out_ + "/submission.csv"), kEarlierSubmission) << "the earlier submission was lost";
  }
  // Replaces the first occurrence of `from` in the scratch train.csv.
  void edit_train(const std::string& from, const std::string& to) {
    std::string text = read_text(data_ + "/train.csv");
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    write_text(data_ + "/train.csv", text);
  }
  std::string write_config(const std::string& yaml) {
    const std::string path = work_ + "/bad.yaml";
    write_text(path, yaml);
    return path;
  }
  // A checkpoint from a real one-epoch run, for the checkpoint cases.
  std::string make_checkpoint() {
    const CliResult r = run(kSmallRun);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    write_text(out_ + "/submission.csv", kEarlierSubmission);
    return out_ + "/checkpoints/last.ckpt";
  }

};

// ---- CSV ------------------------------------------------------------------------------------------

TEST_F(BadInput, MissingTrainCsv) {
  fs::remove(data_ + "/train.csv");
  expect_clean_failure(run(kSmallRun), 2, {"train.csv", "not found", "fetch_titanic.sh"});
}

TEST_F(BadInput, NonNumericAge) {
  edit_train("male,22,", "male,twenty-two,");
  expect_clean_failure(run(kSmallRun), 2, {"train.csv", "line 2", "Age", "twenty-two"});
}

TEST_F(BadInput, UnknownSex) {
  edit_train(",male,22,", ",robot,22,");
  expect_clean_failure(run(kSmallRun), 2, {"train.csv", "Sex", "robot"});
}

TEST_F(BadInput, DuplicatePassengerId) {
  edit_train("\n2,1,1,", "\n1,1,1,");
  expect_clean_failure(run(kSmallRun), 2, {"train.csv", "PassengerId", "1"});
}

TEST_F(BadInput, EmptyTrainFile) {
  write_text(data_ + "/train.csv", "");
  expect_clean_failure(run(kSmallRun), 2, {"train.csv", "empty"});
}

TEST_F(BadInput, TrainFileWithoutSurvived) {
  fs::copy_file(data_ + "/test.csv", data_ + "/train.csv", fs::copy_options::overwrite_existing);
  expect_clean_failure(run(kSmallRun), 2, {"train.csv", "Survived"});
}

TEST_F(BadInput, NameWithoutKnownTitle) {
  edit_train("Braund, Mr. Owen Harris", "Braund, Zork. Owen Harris");
  expect_clean_failure(run(kSmallRun), 2, {"train.csv", "Braund", "title"});
}

// ---- config ---------------------------------------------------------------------------------------

TEST_F(BadInput, MissingConfigFile) {
  expect_clean_failure(run(kSmallRun, work_ + "/nope.yaml"), 2, {"nope.yaml", "not found", "--config"});
}

TEST_F(BadInput, UnknownKeyWithSuggestion) {
  const std::string cfg = write_config(read_text(source_dir() + "/configs/small_cnn.yaml") +
                                       "optimiser:\n  lr: 0.1\n");
  expect_clean_failure(run(kSmallRun, cfg), 2, {"unknown key", "optimiser", "bad.yaml:", "did you mean", "optimizer"});
}

TEST_F(BadInput, WrongType) {
  std::string text = read_text(source_dir() + "/configs/small_cnn.yaml");
  text.replace(text.find("epochs: 30"), 10, "epochs: ten");
  expect_clean_failure(run("--quiet", write_config(text)), 2, {"train.epochs", "integer", "ten", "bad.yaml:"});
}

TEST_F(BadInput, OutOfRangeValue) {
  std::string text = read_text(source_dir() + "/configs/small_cnn.yaml");
  text.replace(text.find("batch_size: 64"), 14, "batch_size: 0");
  expect_clean_failure(run("--quiet", write_config(text)), 2, {"train.batch_size", "out of range"});
}

TEST_F(BadInput, YamlSyntaxError) {
  expect_clean_failure(run(kSmallRun, write_config("train: {epochs: 3\nseed: [1, 2\n")), 2, {"bad.yaml"});
}

TEST_F(BadInput, UnknownLayerType) {
  std::string text = read_text(source_dir() + "/configs/small_cnn.yaml");
  text.replace(text.find("- relu"), 6, "- relux");
  expect_clean_failure(run("--quiet", write_config(text)), 2, {"relux", "did you mean", "relu"});
}

TEST_F(BadInput, ModelThatDoesNotEndInClassScores) {
  std::string text = read_text(source_dir() + "/configs/small_cnn.yaml");
  text.replace(text.find("- linear: {out: 2}"), 18, "- linear: {out: 3}");
  expect_clean_failure(run("--quiet", write_config(text)), 2, {"linear", "2"});
}

TEST_F(BadInput, SetUnknownKey) {
  expect_clean_failure(run("--set train.epoch=3 --quiet"), 2, {"--set", "train.epoch", "did you mean", "train.epochs"});
}

TEST_F(BadInput, SetOutOfRange) {
  expect_clean_failure(run("--set train.val_fraction=1.5 --quiet"), 2, {"train.val_fraction", "1.5"});
}

TEST_F(BadInput, UnknownFeatureName) {
  expect_clean_failure(run("--set 'data.features=[sex_female,title_zork]' --quiet"), 2, {"title_zork"});
}

// ---- checkpoints ----------------------------------------------------------------------------------

TEST_F(BadInput, ResumeFromMissingCheckpoint) {
  expect_clean_failure(run("--resume " + quote(work_ + "/none.ckpt") + " --quiet"), 2, {"none.ckpt", "not found"});
}

TEST_F(BadInput, TruncatedCheckpoint) {
  const std::string ckpt = make_checkpoint();
  const std::string bytes = read_text(ckpt);
  write_text(work_ + "/cut.ckpt", bytes.substr(0, bytes.size() / 2));
  expect_clean_failure(run("--resume " + quote(work_ + "/cut.ckpt") + " " + kSmallRun), 2,
                       {"cut.ckpt", "truncated"});
}

TEST_F(BadInput, CorruptCheckpoint) {
  const std::string ckpt = make_checkpoint();
  std::string bytes = read_text(ckpt);
  bytes[bytes.size() / 2] ^= 0x5a;
  write_text(work_ + "/flip.ckpt", bytes);
  expect_clean_failure(run("--resume " + quote(work_ + "/flip.ckpt") + " " + kSmallRun), 2,
                       {"flip.ckpt", "corrupt", "checksum"});
}

TEST_F(BadInput, WrongVersionCheckpoint) {
  const std::string ckpt = make_checkpoint();
  std::string bytes = read_text(ckpt);
  const uint32_t version = 99;
  std::memcpy(bytes.data() + 8, &version, sizeof(version));  // right after the 8-byte magic
  write_text(work_ + "/v99.ckpt", bytes);
  expect_clean_failure(run("--resume " + quote(work_ + "/v99.ckpt") + " " + kSmallRun), 2,
                       {"v99.ckpt", "version 99"});
}

TEST_F(BadInput, NotACheckpoint) {
  write_text(work_ + "/notes.ckpt", "these are my notes, not a checkpoint\n");
  expect_clean_failure(run("--predict " + quote(work_ + "/notes.ckpt") + " --quiet"), 2,
                       {"notes.ckpt", "not a keel checkpoint"});
}

TEST_F(BadInput, CheckpointOfAnotherConfig) {
  const std::string ckpt = make_checkpoint();
  expect_clean_failure(run("--resume " + quote(ckpt) + " --set train.batch_size=32 " + kSmallRun), 2,
                       {"different configuration", "--set"});
}

// ---- flags ----------------------------------------------------------------------------------------

TEST_F(BadInput, UnknownFlag) {
  expect_clean_failure(run("--epochs 3"), 2, {"--epochs"});
}

TEST_F(BadInput, BadDeviceName) {
  expect_clean_failure(run("--device tpu"), 2, {"--device", "tpu"});
}

TEST_F(BadInput, ResumeAndPredictTogether) {
  expect_clean_failure(run("--resume a.ckpt --predict b.ckpt"), 2, {"--resume", "--predict"});
}

TEST_F(BadInput, CudaRequestedWithoutGpu) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is present: this case is for machines without one";
  expect_clean_failure(run("--device cuda " + std::string(kSmallRun)), 2, {"--device cuda", "--device cpu"});
}

// The child inherits the variable; the parent's own path was settled long before.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

TEST_F(BadInput, UnknownCpuKernelPath) {
  ScopedEnv env("KEEL_CPU_ISA", "avx3");
  expect_clean_failure(run(kSmallRun), 2, {"KEEL_CPU_ISA", "avx3", "avx512, avx2 or portable"});
}

// The CUDA convolution policies start from these variables, read once when the run settles its
// runtime settings: a bad value stops a run on any device, before any work.
TEST_F(BadInput, UnknownGpuConvolutionPolicies) {
  {
    ScopedEnv env("KEEL_CONV_ALGO", "fft");
    expect_clean_failure(run(kSmallRun), 2, {"KEEL_CONV_ALGO=fft", "winograd4", "im2col"});
  }
  ScopedEnv env("KEEL_CONV_DW", "fastest");
  expect_clean_failure(run(kSmallRun), 2, {"KEEL_CONV_DW=fastest", "gemm", "direct"});
}

TEST_F(BadInput, UnknownCpuConvolutionMethod) {
  expect_clean_failure(run(std::string(kSmallRun) + " --set cpu_conv_algo=fft"), 2,
                       {"cpu_conv_algo", "fft", "winograd"});
}

// gpu_backend: cudnn on a build without cuDNN: a CUDA run stops before any work (before the GPU
// starts), a CPU run keeps keel's kernels and trains.
TEST_F(BadInput, CudnnBackendWithoutCudnn) {
  if (cudnn_built()) GTEST_SKIP() << "this keel build has cuDNN";
  expect_clean_failure(run(std::string(kSmallRun) + " --device cuda --set gpu_backend=cudnn"), 2,
                       {"gpu_backend: cudnn", "no cuDNN", "gpu_backend: keel"});
  const CliResult cpu = run(std::string(kSmallRun) + " --device cpu --set gpu_backend=cudnn");
  EXPECT_EQ(cpu.exit_code, 0) << cpu.output;
}

TEST_F(BadInput, OutputFolderIsAFile) {
  write_text(work_ + "/plainfile", "x");
  const CliResult r = run_titanic_train("--config configs/small_cnn.yaml --data " + quote(data_) +
                                        " --out " + quote(work_ + "/plainfile/out") + " " + kSmallRun);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("plainfile"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--out"), std::string::npos) << r.output;
  EXPECT_EQ(read_text(out_ + "/submission.csv"), kEarlierSubmission);
}

}  // namespace
}  // namespace keel::testing
