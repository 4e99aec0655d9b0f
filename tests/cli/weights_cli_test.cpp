// Weights in and out through titanic_train: model.pretrained from a safetensors file keel wrote
// (log, summary.json and report.html name it and its SHA-256; a wrong shape or a missing tensor
// stops the run with exit 2 naming the key), train.frozen_epochs leaving the body untouched, and
// --export-onnx (the ensemble as one graph, written atomically, refused before training when its
// folder is not writable); the run's checkpoint loaded as a keel::Model gives probabilities.csv,
// and onnxruntime gives the same on the exported file (skipped with a reason without it).
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "keel/io/safetensors.h"
#include "keel/train/checkpoint.h"
#include "support/test_util.h"
#include "titanic/config.h"
#include "titanic/fold_features.h"
#include "titanic/model_builder.h"
#include "titanic/trained_model.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;

#define EXPECT_HAS(haystack, needle)                               \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "missing `" << (needle) << "` in: " << (haystack)

// `sha256sum FILE`'s hash: an independent check of what the run reports.
std::string sha256sum(const std::string& path) {
  FILE* pipe = ::popen(("sha256sum " + quote(path)).c_str(), "r");
  std::array<char, 65> hash{};
  const bool read = pipe && std::fgets(hash.data(), hash.size(), pipe) != nullptr;
  if (pipe) ::pclose(pipe);
  return read ? std::string(hash.data()) : "";
}

Config config_at(const std::string& relative_path) {
  return load_config(source_dir() + "/" + relative_path);
}

// The weights of a freshly built model of `config` for 6x6 one-channel images (the demo's 33
// features), under keel's names: what save_safetensors writes.
std::map<std::string, Tensor> initial_weights(const Config& config, uint64_t seed) {
  Generator gen(seed);
  auto model = train::build_model(config, 1, 6, gen);
  const std::string path = make_temp_dir() + "/weights.safetensors";
  save_safetensors(*model, path);
  std::map<std::string, Tensor> tensors = read_safetensors(path).tensors;
  fs::remove_all(fs::path(path).parent_path());
  return tensors;
}

class Weights : public ScratchRunTest {
 protected:
  CliResult run(const std::string& config, const std::string& args) {
    return run_titanic_train("--config " + config + " --data " + quote(data_dir()) + " --out " +
                             quote(out_) + " " + args);
  }
  std::string write_weights(const std::map<std::string, Tensor>& tensors) {
    const std::string path = work_ + "/start.safetensors";
    write_safetensors(path, tensors);
    return path;
  }
  void expect_nothing_written(const CliResult& r) {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(read_text(out_ + "/submission.csv"), kEarlierSubmission);
    EXPECT_FALSE(exists(out_ + "/summary.json"));
    EXPECT_FALSE(has_temporaries(work_));
  }
};

TEST_F(Weights, PretrainedFileIsNamedWithItsHashInLogSummaryAndReport) {
  const std::string file = write_weights(initial_weights(config_at("tests/cli/tiny_cnn.yaml"), 11));
  const CliResult r = run("tests/cli/tiny_cnn.yaml",
                          "--set model.pretrained=" + quote(file) + " --set train.epochs=1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string hash = sha256sum(file);
  ASSERT_EQ(hash.size(), 64u);
  EXPECT_HAS(r.output, "pretrained: " + file + " (sha256 " + hash + "): 4 tensors loaded");
  const auto summary = nlohmann::json::parse(read_text(out_ + "/summary.json"));
  EXPECT_EQ(summary["pretrained"]["file"], file);
  EXPECT_EQ(summary["pretrained"]["sha256"], hash);
  EXPECT_HAS(read_text(out_ + "/report.html"), file + " (sha256 " + hash + ")");
}

TEST_F(Weights, PretrainedTensorOfAnotherShapeStopsTheRunNamingBothShapes) {
  std::map<std::string, Tensor> tensors = initial_weights(config_at("tests/cli/tiny_cnn.yaml"), 11);
  tensors["0.weight"] = Tensor::zeros({5, 1, 3, 3});  // the model's first conv has 4 filters
  const std::string file = write_weights(tensors);
  const CliResult r = run("tests/cli/tiny_cnn.yaml", "--set model.pretrained=" + quote(file));
  expect_nothing_written(r);
  EXPECT_HAS(r.output, file);
  EXPECT_HAS(r.output, "0.weight");
  EXPECT_HAS(r.output, "(5, 1, 3, 3)");
  EXPECT_HAS(r.output, "(4, 1, 3, 3)");
}

TEST_F(Weights, PretrainedFileMissingABodyTensorStopsTheRunNamingIt) {
  std::map<std::string, Tensor> tensors = initial_weights(config_at("tests/cli/tiny_cnn.yaml"), 11);
  tensors.erase("0.bias");
  const std::string file = write_weights(tensors);
  const CliResult r = run("tests/cli/tiny_cnn.yaml", "--set model.pretrained=" + quote(file));
  expect_nothing_written(r);
  EXPECT_HAS(r.output, file);
  EXPECT_HAS(r.output, "0.bias");
}

// Frozen epochs train the head only: after the first (frozen) epoch the body's weights are the
// file's to the bit and the head's have moved; after the unfrozen epoch the body has moved too.
TEST_F(Weights, FrozenEpochsLeaveThePretrainedBodyUntouched) {
  const std::map<std::string, Tensor> start =
      initial_weights(config_at("tests/cli/tiny_resnet.yaml"), 12);
  const std::string file = write_weights(start);
  const std::string args = "--set model.pretrained=" + quote(file);
  CliResult r = run("tests/cli/tiny_resnet.yaml", args + " --set train.stop_after_epochs=1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const train::Checkpoint frozen = train::load_checkpoint(out_ + "/checkpoints/last.ckpt");
  int body = 0, head_moved = 0;
  for (const auto& [name, tensor] : start) {
    const std::string key = "member0.param." + name;
    if (!frozen.tensors.count(key)) continue;  // a buffer (running statistics)
    if (name.rfind("0.", 0) == 0) {
      EXPECT_EQ(frozen.tensor_at(key).to_vector(), tensor.to_vector()) << name;
      ++body;
    } else {
      head_moved += frozen.tensor_at(key).to_vector() != tensor.to_vector();
    }
  }
  EXPECT_GT(body, 40);
  EXPECT_GT(head_moved, 0);

  r = run("tests/cli/tiny_resnet.yaml",
          args + " --resume " + quote(out_ + "/checkpoints/last.ckpt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const train::Checkpoint done = train::load_checkpoint(out_ + "/checkpoints/last.ckpt");
  EXPECT_NE(done.tensor_at("model0.param.0.0.weight").to_vector(),
            start.at("0.0.weight").to_vector())
      << "the unfrozen epoch did not train the body";
}

TEST_F(Weights, ExportOnnxToAMissingFolderStopsBeforeTraining) {
  const std::string target = work_ + "/no/such/folder/model.onnx";
  const CliResult r = run("tests/cli/tiny_cnn.yaml", "--export-onnx " + quote(target));
  expect_nothing_written(r);
  EXPECT_HAS(r.output, "--export-onnx " + target);
  EXPECT_HAS(r.output, "does not exist or is not writable");
  EXPECT_FALSE(exists(out_ + "/checkpoints")) << "it trained before refusing";
  EXPECT_FALSE(exists(target));
}

TEST_F(Weights, ExportOnnxOfARankedEnsembleIsRefused) {
  const CliResult r = run("tests/cli/tiny_cnn.yaml",
                          "--set data.rank_top_k=16 --export-onnx " + quote(work_ + "/model.onnx"));
  expect_nothing_written(r);
  EXPECT_HAS(r.output, "each rank their own features (data.rank_top_k)");
  EXPECT_FALSE(exists(work_ + "/model.onnx"));
}

// The test passengers' images as the run gives them to its models (a fixed feature list: the
// same for every model of the ensemble).
Tensor test_images(const Config& config) {
  const data::FeatureSource source(data::load_titanic(data_dir()));
  data::FeatureSelection selection;
  if (!config.data.features.empty())
    selection = data::FeatureSelection::from_list(config.data.features);
  const std::vector<int64_t> all = source.all_train_rows();
  return data::fold_images(source, selection, config.data.channels, all, all).test_images;
}

std::vector<double> survival_column(const std::string& csv) {
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  std::vector<double> p;
  while (std::getline(in, line)) p.push_back(std::stod(line.substr(line.find(',') + 1)));
  return p;
}

std::string onnx_python() {
  for (const std::string& python :
       {env_or("KEEL_ONNX_PYTHON", ""), source_dir() + "/.venv-onnx/bin/python",
        source_dir() + "/.venv-torch/bin/python", std::string("python3")}) {
    if (!python.empty() &&
        std::system((quote(python) + " -c 'import onnxruntime, numpy' >/dev/null 2>&1").c_str()) ==
            0) {
      return python;
    }
  }
  return "";
}

// An ensemble of two fold models with group survival columns: exported as one graph, loaded back
// from the checkpoint as a keel::Model, both give the run's probabilities.csv.
class ExportedEnsemble : public Weights {
 protected:
  void SetUp() override {
    Weights::SetUp();
    onnx_ = work_ + "/model.onnx";
    result_ =
        run("tests/cli/tiny_cnn.yaml", std::string(kFeatures) + " --export-onnx " + quote(onnx_));
  }
  static constexpr const char* kFeatures =
      "--set data.features=[sex_female,pclass_3,title_mr,title_master,wcg_survived,wcg_died]";
  Config config() const {
    Config c = config_at("tests/cli/tiny_cnn.yaml");
    apply_overrides(c, {"data.features=[sex_female,pclass_3,title_mr,title_master,wcg_survived,"
                        "wcg_died]"});
    return c;
  }
  std::string onnx_;
  CliResult result_;
};

TEST_F(ExportedEnsemble, WritesOneGraphAtomically) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  EXPECT_HAS(result_.output,
             "wrote " + onnx_ + ": the ensemble of 2 models, probabilities averaged");
  const std::string bytes = read_text(onnx_);
  for (const char* name : {"model0.0.weight", "model1.0.weight", "Mean", "probabilities"})
    EXPECT_HAS(bytes, name);
  EXPECT_FALSE(has_temporaries(work_));
}

TEST_F(ExportedEnsemble, CheckpointLoadedAsAModelGivesTheRunsProbabilities) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  train::TrainedModel trained =
      train::load_trained_model(config(), out_ + "/checkpoints/last.ckpt");
  EXPECT_EQ(trained.model.size(), 2u);
  EXPECT_EQ(trained.input_chw, Shape({1, 3, 3}));
  const std::vector<float> p = trained.model.probabilities(test_images(config())).to_vector();
  const std::vector<double> csv = survival_column(read_text(out_ + "/probabilities.csv"));
  ASSERT_EQ(p.size(), 2 * csv.size());
  for (size_t i = 0; i < csv.size(); ++i) EXPECT_NEAR(p[2 * i + 1], csv[i], 1e-6) << "row " << i;
}

TEST_F(ExportedEnsemble, OnnxRuntimeGivesTheRunsProbabilities) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  const std::string python = onnx_python();
  if (python.empty()) {
    GTEST_SKIP()
        << "onnxruntime is not installed (KEEL_ONNX_PYTHON, .venv-onnx, .venv-torch or "
           "python3 with onnxruntime and numpy): scripts/install-onnxruntime.sh installs it";
  }
  const Tensor x = test_images(config());
  const std::vector<float> values = x.to_vector();
  const std::string in = work_ + "/x.bin", out = work_ + "/p.bin";
  std::ofstream(in, std::ios::binary)
      .write(reinterpret_cast<const char*>(values.data()),
             static_cast<std::streamsize>(values.size() * sizeof(float)));
  const int status = std::system(
      (quote(python) + " " + quote(source_dir() + "/tests/io/run_onnx.py") + " " + quote(onnx_) +
       " " + quote(in) + " " + std::to_string(x.dim(0)) + ",1,3,3 " + quote(out))
          .c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "run_onnx.py failed";
  std::vector<float> p(static_cast<size_t>(x.dim(0)) * 2);
  std::ifstream(out, std::ios::binary)
      .read(reinterpret_cast<char*>(p.data()),
            static_cast<std::streamsize>(p.size() * sizeof(float)));
  const std::vector<double> csv = survival_column(read_text(out_ + "/probabilities.csv"));
  ASSERT_EQ(p.size(), 2 * csv.size());
  // probabilities.csv has 6 decimals; float32 sums in another order differ by ~1e-7.
  for (size_t i = 0; i < csv.size(); ++i) EXPECT_NEAR(p[2 * i + 1], csv[i], 2e-6) << "row " << i;
}

}  // namespace
}  // namespace keel::testing
