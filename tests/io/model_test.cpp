// keel::Model, the load-and-predict API: a safetensors round trip gives the trained network's
// probabilities in a fresh architecture, strict loading names a wrong key, a checkpoint's networks
// are averaged, the input transform runs first, and bad inputs are refused.
#include <filesystem>

#include <gtest/gtest.h>
#include <unistd.h>

#include "keel/error.h"
#include "keel/model.h"
#include "keel/nn/activation.h"
#include "keel/nn/batch_norm.h"
#include "keel/nn/conv.h"
#include "keel/nn/linear.h"
#include "keel/nn/pooling.h"
#include "keel/nn/sequential.h"
#include "keel/ops.h"
#include "keel/train/checkpoint.h"
#include "support/test_util.h"

namespace keel {
namespace {

namespace fs = std::filesystem;

// Conv - BN - ReLU - global pool - linear, with batch-norm statistics away from 0 and 1.
std::unique_ptr<nn::Module> network(uint64_t seed) {
  Generator gen(seed);
  auto m = std::make_unique<nn::Sequential>();
  m->emplace<nn::Conv2d>(gen, 1, 4, 3, 1, 1);
  m->emplace<nn::BatchNorm2d>(4);
  m->emplace<nn::ReLU>();
  m->emplace<nn::AdaptiveAvgPool2d>(1);
  m->emplace<nn::Flatten>();
  m->emplace<nn::Linear>(gen, 4, 3);
  m->visit_buffers("", [&](const std::string& name, Tensor& b) {
    const bool var = name.find("running_var") != std::string::npos;
    b.copy_from(testing::random_tensor(b.shape(), seed + 7, var ? 0.5f : -0.3f, var ? 1.5f : 0.3f));
  });
  return m;
}

// The reference: one network's softmax in evaluation mode, by the ops directly.
std::vector<float> softmax_of(nn::Module& net, const Tensor& x) {
  net.set_training(false);
  Tensor loss, probs;
  softmax_cross_entropy_forward(net.forward(x), Tensor::zeros(Shape{x.dim(0)}), loss, probs);
  return probs.to_vector();
}

class ModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("keel_model_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ModelTest, SafetensorsRoundTripPredictsAsTheSavedNetwork) {
  auto trained = network(1);
  const std::string path = (dir_ / "w.safetensors").string();
  save_safetensors(*trained, path);
  const Tensor x = testing::random_tensor(Shape{10, 1, 5, 5}, 2);
  const std::vector<float> expected = softmax_of(*trained, x);

  Model model = Model::from_safetensors(network(99), path);  // other initial weights
  // Batches of 3 (the last one partial) give the same rows as one pass.
  EXPECT_EQ(model.probabilities(x, 3).to_vector(), expected);
  const std::vector<int> classes = model.classes(x);
  ASSERT_EQ(classes.size(), 10u);
  for (size_t i = 0; i < classes.size(); ++i) {
    const float* row = expected.data() + 3 * i;
    EXPECT_EQ(classes[i], std::max_element(row, row + 3) - row) << i;
  }
}

TEST_F(ModelTest, SafetensorsOfAnotherArchitectureIsRefusedNamingTheKey) {
  const std::string path = (dir_ / "w.safetensors").string();
  write_safetensors(path, {{"0.weight", Tensor::zeros({8, 1, 3, 3})}});
  try {
    Model::from_safetensors(network(1), path);
    FAIL() << "loaded a file of another architecture";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("0.weight"), std::string::npos) << what;
    EXPECT_NE(what.find("(8, 1, 3, 3)"), std::string::npos) << what;
    EXPECT_NE(what.find("(4, 1, 3, 3)"), std::string::npos) << what;
  }
}

TEST_F(ModelTest, CheckpointNetworksAreAveraged) {
  auto a = network(1), b = network(2);
  train::Checkpoint c;
  train::save_model_weights(c, "model0.", *a);
  train::save_model_weights(c, "model1.", *b);
  const std::string path = (dir_ / "run.ckpt").string();
  train::save_checkpoint(path, c);
  int built = 0;
  Model model = Model::from_checkpoint(
      [&] {
        ++built;
        return network(100 + built);
      },
      path);
  EXPECT_EQ(model.size(), 2u);
  const Tensor x = testing::random_tensor(Shape{4, 1, 5, 5}, 3);
  const std::vector<float> pa = softmax_of(*a, x), pb = softmax_of(*b, x);
  const std::vector<float> p = model.probabilities(x).to_vector();
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], 0.5 * (pa[i] + pb[i]), 1e-7) << i;
}

TEST_F(ModelTest, CheckpointWithoutFinishedNetworksIsRefused) {
  train::Checkpoint c;
  c.ints["run.members_done"] = 0;
  const std::string path = (dir_ / "empty.ckpt").string();
  train::save_checkpoint(path, c);
  EXPECT_THROW(Model::from_checkpoint([] { return network(1); }, path), Error);
}

TEST_F(ModelTest, InputTransformRunsBeforeTheNetworks) {
  std::vector<std::unique_ptr<nn::Module>> members;
  members.push_back(network(1));
  Model model(std::move(members));
  const Tensor x = testing::random_tensor(Shape{3, 1, 5, 5}, 4);
  Tensor doubled;
  scale(x, 2.0f, doubled);
  const std::vector<float> direct = model.probabilities(doubled).to_vector();
  model.set_input_transform([](const Tensor& raw) {
    Tensor y;
    scale(raw, 2.0f, y);
    return y;
  });
  EXPECT_EQ(model.probabilities(x).to_vector(), direct);
}

TEST(ModelArguments, NoNetworksOrBadImagesAreRefused) {
  EXPECT_THROW(Model(std::vector<std::unique_ptr<nn::Module>>{}), Error);
  std::vector<std::unique_ptr<nn::Module>> members;
  members.push_back(network(1));
  Model model(std::move(members));
  EXPECT_THROW(model.probabilities(testing::random_tensor(Shape{3, 25}, 1)), Error);
  EXPECT_THROW(model.probabilities(testing::random_tensor(Shape{3, 1, 5, 5}, 1), 0), Error);
}

}  // namespace
}  // namespace keel
