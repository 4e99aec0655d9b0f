// ONNX export: the encoding's fixed parts, refusals, and the exported small CNN and narrow
// ResNet-34 (with its fastai head) run in onnxruntime on the same images as keel, at two batch
// sizes, giving the same probabilities. Skips that part with a reason where onnxruntime is absent.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keel/error.h"
#include "keel/io/onnx_export.h"
#include "keel/io/safetensors.h"
#include "keel/nn/activation.h"
#include "keel/nn/batch_norm.h"
#include "keel/nn/conv.h"
#include "keel/nn/linear.h"
#include "keel/nn/pooling.h"
#include "keel/nn/resnet.h"
#include "keel/ops.h"
#include "support/test_util.h"

namespace keel {
namespace {

namespace fs = std::filesystem;

// Batch-norm statistics and scales away from 0 and 1, so the exported ones visibly matter.
void randomise_batch_norms(nn::Module& model, uint64_t seed) {
  model.visit_buffers("", [&](const std::string& name, Tensor& b) {
    const bool var = name.find("running_var") != std::string::npos;
    b.copy_from(testing::random_tensor(b.shape(), seed++, var ? 0.5f : -0.3f, var ? 1.5f : 0.3f));
  });
}

std::unique_ptr<nn::Sequential> small_cnn() {
  Generator gen(3);
  auto m = std::make_unique<nn::Sequential>();
  m->emplace<nn::Conv2d>(gen, 1, 8, 3, 1, 1);
  m->emplace<nn::BatchNorm2d>(8);
  m->emplace<nn::ReLU>();
  m->emplace<nn::MaxPool2d>(2);
  m->emplace<nn::Conv2d>(gen, 8, 16, 3, 1, 1);
  m->emplace<nn::BatchNorm2d>(16);
  m->emplace<nn::ReLU>();
  m->emplace<nn::AvgPool2d>(3, 1, 1);
  m->emplace<nn::AdaptiveAvgPool2d>(1);
  m->emplace<nn::Flatten>();
  m->emplace<nn::Dropout>(0.5f);
  m->emplace<nn::Linear>(gen, 16, 8);
  m->emplace<nn::ReLU>();
  m->emplace<nn::Linear>(gen, 8, 2);
  randomise_batch_norms(*m, 10);
  return m;
}

std::unique_ptr<nn::Sequential> narrow_resnet() {
  Generator gen(4);
  auto m = nn::resnet_classifier(gen, {3, 4, 6, 3}, 2, 3, {8, 0.25f, 0.5f}, 2);
  randomise_batch_norms(*m, 20);
  return m;
}

std::vector<float> keel_probabilities(nn::Module& model, const Tensor& x) {
  model.set_training(false);
  Tensor loss, probs;
  softmax_cross_entropy_forward(model.forward(x), Tensor::zeros(Shape{x.dim(0)}), loss, probs);
  return probs.to_vector();
}

std::string onnx_python() {
  const std::string source = testing::env_or("KEEL_SOURCE_DIR", KEEL_TEST_SOURCE_DIR);
  for (const std::string& python :
       {testing::env_or("KEEL_ONNX_PYTHON", ""), source + "/.venv-onnx/bin/python",
        source + "/.venv-torch/bin/python", std::string("python3")}) {
    if (!python.empty() &&
        std::system(("'" + python + "' -c 'import onnxruntime, numpy' >/dev/null 2>&1").c_str()) ==
            0) {
      return python;
    }
  }
  return "";
}

class OnnxRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    python_ = onnx_python();
    if (python_.empty()) {
      GTEST_SKIP() << "onnxruntime is not installed (KEEL_ONNX_PYTHON, .venv-onnx, .venv-torch or "
                      "python3 with onnxruntime and numpy): scripts/test.sh installs it";
    }
    dir_ = fs::temp_directory_path() / fmt::format("keel_onnx_{}", ::getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // onnxruntime's probabilities for x, after exporting `model`.
  std::vector<float> run_onnx(nn::Module& model, const Tensor& x, const std::string& name) {
    const std::string onnx = (dir_ / (name + ".onnx")).string();
    export_onnx(model, Shape{x.dim(1), x.dim(2), x.dim(3)}, onnx);
    // KEEL_ONNX_KEEP=DIR keeps the exported files, e.g. for onnx.checker.check_model.
    if (const char* keep = std::getenv("KEEL_ONNX_KEEP")) {
      fs::copy_file(onnx, fmt::format("{}/{}.onnx", keep, name),
                    fs::copy_options::overwrite_existing);
    }
    return run_onnx_file(onnx, x);
  }

  // onnxruntime's probabilities for x from an exported file (two classes).
  std::vector<float> run_onnx_file(const std::string& onnx, const Tensor& x) {
    const std::vector<float> values = x.to_vector();
    const std::string in = (dir_ / "x.bin").string(), out = (dir_ / "p.bin").string();
    std::ofstream(in, std::ios::binary)
        .write(reinterpret_cast<const char*>(values.data()),
               static_cast<std::streamsize>(values.size() * sizeof(float)));
    const std::string script =
        testing::env_or("KEEL_SOURCE_DIR", KEEL_TEST_SOURCE_DIR) + "/tests/io/run_onnx.py";
    const int status =
        std::system(fmt::format("'{}' '{}' '{}' '{}' {},{},{},{} '{}'", python_, script, onnx, in,
                                x.dim(0), x.dim(1), x.dim(2), x.dim(3), out)
                        .c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "run_onnx.py failed";
    std::vector<float> probs(static_cast<size_t>(x.dim(0)) * 2);
    std::ifstream(out, std::ios::binary)
        .read(reinterpret_cast<char*>(probs.data()),
              static_cast<std::streamsize>(probs.size() * sizeof(float)));
    return probs;
  }

  // Both sides compute in float32 with other summation orders; logits agree to ~1e-6 relative
  // (as in the PyTorch parity test), which moves a probability by less than 1e-5.
  void expect_same(nn::Module& model, const Tensor& x, const std::string& name) {
    const std::vector<float> keel = keel_probabilities(model, x);
    const std::vector<float> ort = run_onnx(model, x, name);
    double worst = 0;
    for (size_t i = 0; i < keel.size(); ++i)
      worst = std::max(worst, std::abs(double{keel[i]} - ort[i]));
    std::printf("%s, batch %ld: max |keel - onnxruntime| probability difference %.2e\n",
                name.c_str(), static_cast<long>(x.dim(0)), worst);
    EXPECT_LT(worst, 1e-5) << name;
  }

  std::string python_;
  fs::path dir_;
};

TEST_F(OnnxRuntimeTest, SmallCnnGivesTheSameProbabilitiesAtAnyBatchSize) {
  auto model = small_cnn();
  expect_same(*model, testing::random_tensor(Shape{7, 1, 6, 6}, 1), "small_cnn");
  expect_same(*model, testing::random_tensor(Shape{1, 1, 6, 6}, 2), "small_cnn");
}

TEST_F(OnnxRuntimeTest, NarrowResNetWithTheFastaiHead) {
  auto model = narrow_resnet();
  expect_same(*model, testing::random_tensor(Shape{5, 3, 32, 32}, 3), "resnet34_w2");
  expect_same(*model, testing::random_tensor(Shape{2, 3, 32, 32}, 4), "resnet34_w2");
}

// An ensemble as one graph: onnxruntime's probabilities are the mean of the two networks' own.
TEST_F(OnnxRuntimeTest, EnsembleAveragesItsNetworksProbabilities) {
  auto first = small_cnn();
  auto second = small_cnn();
  randomise_batch_norms(*second, 40);
  second->visit_parameters("", [&, seed = 50](const std::string&, nn::Parameter& p) mutable {
    p.value.copy_from(testing::random_tensor(p.value.shape(), seed++, -1.0f, 1.0f));
  });
  const Tensor x = testing::random_tensor(Shape{6, 1, 6, 6}, 5);
  const std::vector<float> a = keel_probabilities(*first, x), b = keel_probabilities(*second, x);
  const std::string onnx = (dir_ / "ensemble.onnx").string();
  export_onnx({first.get(), second.get()}, Shape{1, 6, 6}, onnx);
  const std::vector<float> ort = run_onnx_file(onnx, x);
  double worst = 0, spread = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(0.5 * (double{a[i]} + b[i]) - ort[i]));
    spread = std::max(spread, std::abs(double{a[i]} - b[i]));
  }
  std::printf("ensemble of 2: max |mean of keel's - onnxruntime| %.2e (networks differ by %.2f)\n",
              worst, spread);
  EXPECT_LT(worst, 1e-5);
  EXPECT_GT(spread, 0.05) << "the two networks should not agree, or the mean shows nothing";
}

TEST(OnnxExport, EnsembleNamesEachNetworksWeightsAndRefusesMixedClasses) {
  auto first = small_cnn(), second = small_cnn();
  const std::string bytes = onnx_model_bytes({first.get(), second.get()}, Shape{1, 6, 6});
  for (const char* text : {"model0.0.weight", "model1.11.bias", "Mean", "Log", "probabilities"})
    EXPECT_NE(bytes.find(text), std::string::npos) << text;
  EXPECT_EQ(onnx_model_bytes({first.get()}, Shape{1, 6, 6}),
            onnx_model_bytes(*first, Shape{1, 6, 6}));
  Generator gen(9);
  nn::Sequential three_classes;
  three_classes.emplace<nn::AdaptiveAvgPool2d>(1);
  three_classes.emplace<nn::Flatten>();
  three_classes.emplace<nn::Linear>(gen, 1, 3);
  try {
    onnx_model_bytes({first.get(), &three_classes}, Shape{1, 6, 6});
    FAIL() << "an ensemble of a 2-class and a 3-class network was exported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("network 1 gives 2, network 2 gives 3"), std::string::npos)
        << e.what();
  }
}

TEST(OnnxExport, ModelHeaderAndWeightNames) {
  auto model = small_cnn();
  const std::string bytes = onnx_model_bytes(*model, Shape{1, 6, 6});
  EXPECT_EQ(bytes.substr(0, 2), std::string("\x08\x07", 2));  // ir_version 7
  for (const char* text : {"BatchNormalization", "0.weight", "1.running_var", "11.bias",
                           "probabilities", "logits", "batch"}) {
    EXPECT_NE(bytes.find(text), std::string::npos) << text;
  }
  EXPECT_EQ(bytes.find("Dropout"), std::string::npos);
}

TEST(OnnxExport, RefusesWhatItCannotExpress) {
  Generator gen(0);
  nn::Sequential image_out;
  image_out.emplace<nn::Conv2d>(gen, 1, 2, 3);
  EXPECT_THROW(onnx_model_bytes(image_out, Shape{1, 6, 6}), Error);
  nn::Sequential odd_pool;
  odd_pool.emplace<nn::AdaptiveAvgPool2d>(4);
  odd_pool.emplace<nn::Flatten>();
  try {
    onnx_model_bytes(odd_pool, Shape{1, 6, 6});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("6x6 to 4x4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(onnx_model_bytes(odd_pool, Shape{6, 6}), Error);
}

}  // namespace
}  // namespace keel
