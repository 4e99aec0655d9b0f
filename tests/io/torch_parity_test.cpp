// keel against PyTorch on the same weights and inputs: logits, loss, every parameter gradient and
// the updated batch-norm statistics of a train-mode pass, and the logits and loss of an eval-mode
// pass, for the small CNN and a narrow ResNet-34 (fixtures written by make_parity_fixtures.py,
// results exact in float64). With PyTorch installed, the full-width models are checked too.
#include <sys/wait.h>
#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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

int meta_int(const SafetensorsFile& f, const std::string& key) {
  return std::stoi(f.metadata.at(key));
}

// configs/small_cnn.yaml's layers with the fixture's widths, dropout at p = 0 as in the fixture.
std::unique_ptr<nn::Sequential> small_cnn(const SafetensorsFile& f, Generator& gen) {
  int c1, c2, c3;
  std::sscanf(f.metadata.at("widths").c_str(), "%d,%d,%d", &c1, &c2, &c3);
  const int hidden = meta_int(f, "hidden");
  auto m = std::make_unique<nn::Sequential>();
  m->emplace<nn::Conv2d>(gen, 1, c1, 3, 1, 1);
  m->emplace<nn::BatchNorm2d>(c1);
  m->emplace<nn::ReLU>();
  m->emplace<nn::Conv2d>(gen, c1, c2, 3, 1, 1);
  m->emplace<nn::BatchNorm2d>(c2);
  m->emplace<nn::ReLU>();
  m->emplace<nn::MaxPool2d>(2);
  m->emplace<nn::Conv2d>(gen, c2, c3, 3, 1, 1);
  m->emplace<nn::BatchNorm2d>(c3);
  m->emplace<nn::ReLU>();
  m->emplace<nn::AdaptiveAvgPool2d>(1);
  m->emplace<nn::Flatten>();
  m->emplace<nn::Dropout>(0.0f);
  m->emplace<nn::Linear>(gen, c3, hidden);
  m->emplace<nn::ReLU>();
  m->emplace<nn::Dropout>(0.0f);
  m->emplace<nn::Linear>(gen, hidden, 2);
  return m;
}

std::unique_ptr<nn::Sequential> build(const SafetensorsFile& f) {
  Generator gen(0);
  std::unique_ptr<nn::Sequential> model;
  const std::string arch = f.metadata.at("arch");
  if (arch == "small_cnn") {
    model = small_cnn(f, gen);
  } else {
    const std::vector<int> layers =
        arch == "resnet18" ? std::vector<int>{2, 2, 2, 2} : std::vector<int>{3, 4, 6, 3};
    const nn::HeadOptions head{meta_int(f, "hidden"), 0.0f, 0.0f};
    model = nn::resnet_classifier(gen, layers, 2, 3, head, meta_int(f, "width"));
  }
  (*model)[0].set_input_grad(false);
  WeightLoadOptions options;
  options.renames = {{"weights.", ""}};
  options.ignore_unexpected = true;  // the inputs and PyTorch's results
  const WeightLoadReport report = load_safetensors(*model, f, options);
  EXPECT_TRUE(report.kept.empty());
  return model;
}

// ‖got − ref‖ / max(‖ref‖, floor): the house relative error, where `floor` stands in for the
// norm of a tensor whose exact value is (nearly) zero, e.g. the bias gradient of a convolution
// followed by batch norm, which normalisation cancels; its float32 value is rounding noise.
double error(const Tensor& got, const Tensor& ref, double floor) {
  const std::vector<float> g = got.to_vector(), r = ref.to_vector();
  EXPECT_EQ(g.size(), r.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < g.size() && i < r.size(); ++i) {
    diff += (static_cast<double>(g[i]) - r[i]) * (static_cast<double>(g[i]) - r[i]);
    norm += static_cast<double>(r[i]) * r[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(norm), floor);
}

double norm(const Tensor& t) {
  double s = 0;
  for (float v : t.to_vector()) s += static_cast<double>(v) * v;
  return std::sqrt(s);
}

struct Errors {
  std::map<std::string, double> by_class;  // worst tensor per class
  std::map<std::string, std::string> worst;
  void add(const std::string& cls, const std::string& name, double e) {
    // KEEL_PARITY_VERBOSE=1 lists every tensor, to find where a difference starts.
    if (std::getenv("KEEL_PARITY_VERBOSE"))
      std::printf("  %-14s %-28s %.3e\n", cls.c_str(), name.c_str(), e);
    if (e >= by_class[cls]) {
      by_class[cls] = e;
      worst[cls] = name;
    }
  }
};

Errors compare(const SafetensorsFile& f) {
  Errors errors;
  const Tensor& x = f.tensors.at("input");
  const Tensor& labels = f.tensors.at("labels");
  Tensor loss, probs, dlogits;
  {
    auto model = build(f);
    model->set_training(true);
    const Tensor& logits = model->forward(x);
    errors.add("train.logits", "", error(logits, f.tensors.at("train.logits"), 0));
    softmax_cross_entropy_forward(logits, labels, loss, probs);
    errors.add("train.loss", "", error(loss, f.tensors.at("train.loss"), 0));
    softmax_cross_entropy_backward(probs, labels, dlogits);
    model->backward(dlogits);
    double largest = 0;
    for (const auto& [name, t] : f.tensors) {
      if (name.rfind("grad.", 0) == 0) largest = std::max(largest, norm(t));
    }
    model->visit_parameters("", [&](const std::string& name, nn::Parameter& p) {
      errors.add("grad", name, error(p.grad, f.tensors.at("grad." + name), 1e-3 * largest));
    });
    model->visit_buffers("", [&](const std::string& name, Tensor& b) {
      errors.add("running_stats", name, error(b, f.tensors.at("after." + name), 0));
    });
  }
  auto model = build(f);
  model->set_training(false);
  const Tensor& logits = model->forward(x);
  errors.add("eval.logits", "", error(logits, f.tensors.at("eval.logits"), 0));
  softmax_cross_entropy_forward(logits, labels, loss, probs);
  errors.add("eval.loss", "", error(loss, f.tensors.at("eval.loss"), 0));
  return errors;
}

// Both engines approximate the same exact (float64) answer in float32, and how closely depends on
// the model's conditioning: batch norm over 4 values per channel (the ResNet's last stage at
// 1x1, its head) magnifies rounding 1000-fold in the gradients, a shallow CNN hardly at all, and
// a pre-activation within rounding distance of a ReLU's kink (the full ResNet-34 fixture has one
// at 1e-7 of its tensor's scale) takes either branch, moving a gradient by a discrete step. So
// the yardstick is PyTorch's own float32 error on the same fixture, the worst of three ways of
// computing it (make_parity_fixtures.py): keel must be within 4x of it (summation orders scatter
// the engines by about 2x either way), and never needs to be closer than 1e-6 (8 float32 eps).
constexpr double kTimesPyTorch = 4.0;
constexpr double kFloor = 1e-6;

void check(const std::string& fixture, const SafetensorsFile& f, const Errors& e) {
  const auto torch_error = nlohmann::json::parse(f.metadata.at("torch_fp32_error"));
  std::string line = fmt::format(
      "{} (vs PyTorch {} in float64; PyTorch's own float32 error in "
      "brackets):",
      fixture, f.metadata.at("torch_version"));
  for (const auto& [cls, err] : e.by_class) {
    const double torch = torch_error.at(cls).get<double>();
    line += fmt::format(" {} {:.2e} [{:.2e}]", cls, err, torch);
    EXPECT_LE(err, std::max(kTimesPyTorch * torch, kFloor))
        << fixture << ": " << cls << " (worst: " << e.worst.at(cls) << ")";
  }
  std::printf("%s\n", line.c_str());
}

std::string fixture_dir() {
  return testing::env_or("KEEL_SOURCE_DIR", KEEL_TEST_SOURCE_DIR) + "/tests/fixtures/parity";
}

TEST(TorchParity, SmallCnn) {
  const SafetensorsFile f = read_safetensors(fixture_dir() + "/small_cnn.safetensors");
  check("small_cnn", f, compare(f));
}

TEST(TorchParity, NarrowResNet34) {
  const SafetensorsFile f = read_safetensors(fixture_dir() + "/resnet34_w2.safetensors");
  check("resnet34_w2", f, compare(f));
}

// --- with PyTorch installed: the full-width models, torchvision's names, keel's files in PyTorch
// --

// A Python that imports torch: $KEEL_TORCH_PYTHON, the source tree's .venv-torch, or python3.
std::string torch_python() {
  const std::string source = testing::env_or("KEEL_SOURCE_DIR", KEEL_TEST_SOURCE_DIR);
  for (const std::string& python : {testing::env_or("KEEL_TORCH_PYTHON", ""),
                                    source + "/.venv-torch/bin/python", std::string("python3")}) {
    if (!python.empty() &&
        std::system(("'" + python + "' -c 'import torch' >/dev/null 2>&1").c_str()) == 0) {
      return python;
    }
  }
  return "";
}

int run_script(const std::string& python, const std::string& args) {
  const std::string script = testing::env_or("KEEL_SOURCE_DIR", KEEL_TEST_SOURCE_DIR) +
                             "/tests/io/make_parity_fixtures.py";
  const int status = std::system(fmt::format("'{}' '{}' {}", python, script, args).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class TorchParityFull : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    python_ = torch_python();
    if (python_.empty()) return;
    dir_ = (fs::temp_directory_path() / fmt::format("keel_parity_full_{}", ::getpid())).string();
    generated_ = run_script(python_, "--full '" + dir_ + "' >/dev/null") == 0;
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (python_.empty()) {
      GTEST_SKIP() << "PyTorch is not installed (no KEEL_TORCH_PYTHON, .venv-torch or python3 "
                      "with torch): the full-width check needs it to write its fixtures";
    }
    ASSERT_TRUE(generated_) << "make_parity_fixtures.py --full failed";
  }

  static std::string python_, dir_;
  static bool generated_;
};
std::string TorchParityFull::python_, TorchParityFull::dir_;
bool TorchParityFull::generated_ = false;

TEST_F(TorchParityFull, SmallCnnAsConfigured) {
  const SafetensorsFile f = read_safetensors(dir_ + "/small_cnn_full.safetensors");
  check("small_cnn_full", f, compare(f));
}

TEST_F(TorchParityFull, ResNet34AndItsFileInPyTorch) {
  const SafetensorsFile f = read_safetensors(dir_ + "/resnet34_full.safetensors");
  check("resnet34_full", f, compare(f));
  // keel's own file of the same model, read by the safetensors package and loaded strictly.
  auto model = build(f);
  save_safetensors(*model, dir_ + "/keel_resnet34.safetensors");
  const int verified = run_script(
      python_, fmt::format("--verify '{}/keel_resnet34.safetensors' '{}/resnet34_full.safetensors'",
                           dir_, dir_));
  if (verified == 77)
    GTEST_SKIP() << "the safetensors package is not installed: pip install safetensors";
  EXPECT_EQ(verified, 0);
}

TEST_F(TorchParityFull, TorchvisionNamesLoadIntoTheBody) {
  const SafetensorsFile f = read_safetensors(dir_ + "/resnet34_torchvision.safetensors");
  Generator gen(0);
  auto model = nn::resnet34_classifier(gen, 2);
  WeightLoadOptions options;
  options.renames = nn::torchvision_resnet_renames("0.");
  options.ignore_unexpected = true;
  options.optional_prefixes = {"1."};
  const WeightLoadReport report = load_safetensors(*model, f, options);
  EXPECT_EQ(report.unexpected, (std::vector<std::string>{"fc.bias", "fc.weight"}));
  for (const std::string& name : report.kept) EXPECT_EQ(name.rfind("1.", 0), 0u) << name;
  EXPECT_EQ(report.loaded.size(), f.tensors.size() - 2 - 36);  // less fc and num_batches_tracked
  model->visit_parameters("", [&](const std::string& name, nn::Parameter& p) {
    if (name.rfind("0.4.1.conv2.", 0) == 0) {
      EXPECT_EQ(p.value.to_vector(), f.tensors.at("layer1.1.conv2.weight").to_vector());
    }
  });
}

}  // namespace
}  // namespace keel
