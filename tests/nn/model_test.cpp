// Layer behaviour beyond gradients: train/eval modes, initialisation statistics, parameter and
// buffer names, ResNet-34 sizes against torchvision, a tiny CNN that learns a toy task, and
// bit-identical training from the same seed.
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/nn.h"
#include "keel/ops.h"
#include "keel/optim.h"
#include "keel/random.h"
#include "keel/runtime.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::random_tensor;

std::vector<std::string> parameter_names(nn::Module& m) {
  std::vector<std::string> names;
  m.visit_parameters("", [&](const std::string& n, nn::Parameter&) { names.push_back(n); });
  return names;
}

std::vector<std::string> buffer_names(nn::Module& m) {
  std::vector<std::string> names;
  m.visit_buffers("", [&](const std::string& n, Tensor&) { names.push_back(n); });
  return names;
}

// ---- batch norm and dropout modes
// ----------------------------------------------------------------

TEST(Modes, BatchNormTrainingUpdatesRunningStatsAndEvalUsesThem) {
  const int64_t n = 4, c = 3, hw = 6;
  nn::BatchNorm2d bn(c, 1e-5f, 0.1f);
  bn.weight().value.copy_from(Tensor::from_data({c}, std::vector<float>{1.5f, 0.5f, 2.0f}));
  bn.bias().value.copy_from(Tensor::from_data({c}, std::vector<float>{0.1f, -0.2f, 0.3f}));
  Tensor x = random_tensor({n, c, 2, 3}, 7, -2.0f, 3.0f);
  const std::vector<float> xv = x.to_vector();

  // Batch statistics by plain loops, in double.
  std::vector<double> mean(c, 0.0), var(c, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < hw; ++k) mean[ch] += xv[(i * c + ch) * hw + k] / double(n * hw);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < hw; ++k) {
        const double d = xv[(i * c + ch) * hw + k] - mean[ch];
        var[ch] += d * d / double(n * hw);
      }

  bn.set_training(true);
  const std::vector<float> y_train = bn.forward(x).to_vector();
  const std::vector<float> rm = bn.running_mean().to_vector();
  const std::vector<float> rv = bn.running_var().to_vector();
  const std::vector<float> gamma = bn.weight().value.to_vector(),
                           beta = bn.bias().value.to_vector();
  for (int64_t ch = 0; ch < c; ++ch) {
    // running = 0.9 · initial (0 and 1) + 0.1 · batch, with the unbiased variance.
    EXPECT_NEAR(rm[ch], 0.1 * mean[ch], 1e-6);
    EXPECT_NEAR(rv[ch], 0.9 + 0.1 * var[ch] * double(n * hw) / double(n * hw - 1), 1e-6);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < hw; ++k) {
        const size_t at = static_cast<size_t>((i * c + ch) * hw + k);
        const double ref = (xv[at] - mean[ch]) / std::sqrt(var[ch] + 1e-5) * gamma[ch] + beta[ch];
        EXPECT_NEAR(y_train[at], ref, 1e-5);
      }
  }

  bn.set_training(false);
  const std::vector<float> y_eval = bn.forward(x).to_vector();
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < hw; ++k) {
        const size_t at = static_cast<size_t>((i * c + ch) * hw + k);
        const double ref = (xv[at] - rm[ch]) / std::sqrt(rv[ch] + 1e-5) * gamma[ch] + beta[ch];
        EXPECT_NEAR(y_eval[at], ref, 1e-5);
      }
  // Evaluation leaves the running statistics alone, and has no backward pass.
  EXPECT_EQ(bn.running_mean().to_vector(), rm);
  EXPECT_EQ(bn.running_var().to_vector(), rv);
  EXPECT_THROW(bn.backward(x), Error);
}

TEST(Modes, BatchNormRejectsWrongShapesAndSingleValues) {
  nn::BatchNorm2d bn2(3);
  EXPECT_THROW(bn2.forward(Tensor::zeros({2, 4, 2, 2})), Error);
  EXPECT_THROW(bn2.forward(Tensor::zeros({2, 3})), Error);
  nn::BatchNorm1d bn1(3);
  EXPECT_THROW(bn1.forward(Tensor::zeros({1, 3})), Error);  // one value per channel
  bn1.set_training(false);
  EXPECT_NO_THROW(bn1.forward(Tensor::zeros({1, 3})));
}

TEST(Modes, DropoutMasksInTrainingAndIsIdentityInEval) {
  nn::Dropout dropout(0.25f);
  Tensor x = random_tensor({8, 1250}, 3, 0.5f, 1.5f);  // 10,000 nonzero values
  EXPECT_THROW(dropout.forward(x), Error);             // training without a generator

  Generator gen(5);
  dropout.set_generator(&gen);
  const std::vector<float> xv = x.to_vector();
  const std::vector<float> y = dropout.forward(x).to_vector();
  int64_t zeros = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] == 0.0f) {
      ++zeros;
    } else {
      EXPECT_FLOAT_EQ(y[i], xv[i] / 0.75f);
    }
  }
  // Binomial(10000, 0.25): standard deviation 43, so ±200 is more than 4.5 sigma.
  EXPECT_NEAR(static_cast<double>(zeros), 2500.0, 200.0);
  // The next draw gives another mask; the same generator state gives the same one.
  EXPECT_NE(dropout.forward(x).to_vector(), y);
  gen.set_state(5, 0);
  EXPECT_EQ(dropout.forward(x).to_vector(), y);
  // backward multiplies by the same mask.
  Tensor ones = Tensor::full(x.shape(), 1.0f);
  const std::vector<float> dx = dropout.backward(ones).to_vector();
  for (size_t i = 0; i < y.size(); ++i) EXPECT_FLOAT_EQ(dx[i], y[i] == 0.0f ? 0.0f : 1.0f / 0.75f);

  dropout.set_training(false);
  dropout.set_generator(nullptr);  // evaluation needs no random source
  EXPECT_EQ(dropout.forward(x).to_vector(), xv);
  EXPECT_TRUE(dropout.forward(x).shares_storage_with(x));  // a view, not a copy
  EXPECT_EQ(dropout.backward(ones).to_vector(), ones.to_vector());
  EXPECT_THROW(nn::Dropout(1.0f), Error);
}

TEST(Modes, SetTrainingAndGeneratorReachNestedChildren) {
  Generator gen(1);
  auto model = std::make_unique<nn::Sequential>();
  auto body = std::make_unique<nn::Sequential>();
  body->emplace<nn::BasicBlock>(gen, 1, 4, 2);
  body->emplace<nn::BasicBlock>(gen, 4, 4, 1);
  model->add(std::move(body));
  model->add(nn::fastai_head(gen, 4, 2, nn::HeadOptions{8, 0.25f, 0.5f}));
  model->set_training(false);
  int visited = 0, training = 0;
  std::function<void(nn::Module&)> walk = [&](nn::Module& m) {
    ++visited;
    training += m.training();
    m.visit_children(walk);
  };
  model->visit_children(walk);
  // body and head; block 1 with its 4 layers and downsample (itself + 2); block 2 with 4; 9 in the
  // head
  EXPECT_EQ(visited, 2 + (1 + 4 + 3) + (1 + 4) + 9);
  EXPECT_EQ(training, 0);
  // Eval-mode forward of the whole classifier runs without a generator (dropout off).
  Tensor x = random_tensor({2, 1, 5, 7}, 2);
  EXPECT_EQ(model->forward(x).shape(), (Shape{2, 2}));
  // Training mode needs the generator for the head's dropout.
  model->set_training(true);
  EXPECT_THROW(model->forward(x), Error);
  Generator drop(3);
  model->set_generator(&drop);
  EXPECT_EQ(model->forward(x).shape(), (Shape{2, 2}));
}

TEST(Modes, ReLUInPlaceSharesItsInputStorage) {
  Tensor x = Tensor::from_data({4}, std::vector<float>{-1.0f, 2.0f, -3.0f, 4.0f});
  nn::ReLU out_of_place;
  EXPECT_EQ(out_of_place.forward(x).to_vector(), (std::vector<float>{0, 2, 0, 4}));
  EXPECT_EQ(x.to_vector(), (std::vector<float>{-1, 2, -3, 4}));
  nn::ReLU in_place(true);
  const Tensor& y = in_place.forward(x);
  EXPECT_TRUE(y.shares_storage_with(x));
  EXPECT_EQ(x.to_vector(), (std::vector<float>{0, 2, 0, 4}));
  Tensor dy = Tensor::from_data({4}, std::vector<float>{1, 1, 1, 1});
  EXPECT_EQ(in_place.backward(dy).to_vector(), (std::vector<float>{0, 1, 0, 1}));
}

// ---- initialisation -----------------------------------------------------------------------------

struct Stats {
  double mean = 0, stddev = 0, max_abs = 0;
};
Stats stats(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  Stats s;
  for (float x : v) s.mean += x / double(v.size());
  for (float x : v) {
    s.stddev += (x - s.mean) * (x - s.mean) / double(v.size());
    s.max_abs = std::max(s.max_abs, std::fabs(double(x)));
  }
  s.stddev = std::sqrt(s.stddev);
  return s;
}

TEST(Init, KaimingNormalAndUniformFollowTheirFormulas) {
  Generator gen(11);
  Tensor w(Shape{64, 32, 3, 3});  // fan_in 288, fan_out 576; 18,432 samples
  EXPECT_EQ(nn::fan_in(w), 288);
  EXPECT_EQ(nn::fan_out(w), 576);
  // The sample standard deviation of 18,432 draws is within 1% (about 2 sigma) of the true one.
  nn::kaiming_normal_(w, gen);
  Stats s = stats(w);
  EXPECT_NEAR(s.stddev, std::sqrt(2.0 / 288), 0.01 * std::sqrt(2.0 / 288) * 2);
  EXPECT_NEAR(s.mean, 0.0, 4 * std::sqrt(2.0 / 288) / std::sqrt(18432.0));
  nn::kaiming_normal_(w, gen, 0.0, nn::FanMode::fan_out);
  EXPECT_NEAR(stats(w).stddev, std::sqrt(2.0 / 576), 0.02 * std::sqrt(2.0 / 576));

  nn::kaiming_uniform_(w, gen);
  const double bound = std::sqrt(2.0) * std::sqrt(3.0 / 288);
  s = stats(w);
  EXPECT_LE(s.max_abs, bound);
  EXPECT_GT(s.max_abs, 0.99 * bound);
  EXPECT_NEAR(s.stddev, bound / std::sqrt(3.0), 0.02 * bound / std::sqrt(3.0));

  // PyTorch's default: weight and bias both bounded by 1/sqrt(fan_in).
  nn::Conv2d conv(gen, 32, 64, 3);
  const double default_bound = 1.0 / std::sqrt(288.0);
  EXPECT_LE(stats(conv.weight().value).max_abs, default_bound);
  EXPECT_GT(stats(conv.weight().value).max_abs, 0.99 * default_bound);
  EXPECT_LE(stats(conv.bias()->value).max_abs, default_bound);
  EXPECT_GT(stats(conv.bias()->value).max_abs, 0.5 * default_bound);
}

TEST(Init, SameSeedSameWeightsOtherSeedOtherWeights) {
  Generator a(42), b(42), c(43);
  auto na = nn::resnet_classifier(a, {1, 1, 1, 1}, 3, 2);
  auto nb = nn::resnet_classifier(b, {1, 1, 1, 1}, 3, 2);
  auto nc = nn::resnet_classifier(c, {1, 1, 1, 1}, 3, 2);  // 4.9 M parameters each
  auto pa = na->parameters(), pb = nb->parameters(), pc = nc->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  bool any_differs = false;
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i]->value.to_vector(), pb[i]->value.to_vector());
    any_differs |= pa[i]->value.to_vector() != pc[i]->value.to_vector();
  }
  EXPECT_TRUE(any_differs);
  // BN starts at weight 1, bias 0; fastai's head linear layers at zero bias.
  for (float v : dynamic_cast<nn::Sequential&>((*na)[1])[2].parameters()[0]->value.to_vector())
    EXPECT_EQ(v, 1.0f);
  for (float v : dynamic_cast<nn::Sequential&>((*na)[1])[8].parameters()[1]->value.to_vector())
    EXPECT_EQ(v, 0.0f);
}

// ---- names, counts, groups ----------------------------------------------------------------------

TEST(Names, SequentialAndBlockNamesMatchPyTorch) {
  Generator gen(1);
  nn::Sequential net;
  net.emplace<nn::Conv2d>(gen, 1, 4, 3, 1, 1);
  net.emplace<nn::BatchNorm2d>(4);
  net.emplace<nn::ReLU>();
  auto inner = std::make_unique<nn::Sequential>();
  inner->emplace<nn::BasicBlock>(gen, 4, 8, 2);
  net.add(std::move(inner));
  net.emplace<nn::Flatten>();
  net.emplace<nn::Linear>(gen, 8, 2, false);
  EXPECT_EQ(
      parameter_names(net),
      (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "3.0.conv1.weight",
                                "3.0.bn1.weight", "3.0.bn1.bias", "3.0.conv2.weight",
                                "3.0.bn2.weight", "3.0.bn2.bias", "3.0.downsample.0.weight",
                                "3.0.downsample.1.weight", "3.0.downsample.1.bias", "5.weight"}));
  EXPECT_EQ(buffer_names(net),
            (std::vector<std::string>{"1.running_mean", "1.running_var", "3.0.bn1.running_mean",
                                      "3.0.bn1.running_var", "3.0.bn2.running_mean",
                                      "3.0.bn2.running_var", "3.0.downsample.1.running_mean",
                                      "3.0.downsample.1.running_var"}));
  // conv 1·4·9 + 4, BN 2·4, block: conv1 4·8·9, bn1 2·8, conv2 8·8·9, bn2 2·8, downsample conv
  // 4·8 and BN 2·8, linear 8·2.
  EXPECT_EQ(net.parameter_count(), 40 + 8 + 288 + 16 + 576 + 16 + 32 + 16 + 16);
  // Biases and batch-norm parameters are the ones weight decay may skip.
  std::map<std::string, bool> decay;
  net.visit_parameters("", [&](const std::string& n, nn::Parameter& p) { decay[n] = p.decay; });
  EXPECT_TRUE(decay["0.weight"]);
  EXPECT_FALSE(decay["0.bias"]);
  EXPECT_FALSE(decay["1.weight"]);
  EXPECT_FALSE(decay["3.0.bn2.bias"]);
  EXPECT_TRUE(decay["3.0.downsample.0.weight"]);

  const std::string table = net.describe();
  EXPECT_NE(table.find("Sequential(6 layers)"), std::string::npos) << table;
  EXPECT_NE(table.find("3.0"), std::string::npos) << table;
  EXPECT_NE(table.find("BasicBlock(4 -> 8, stride 2, downsample)"), std::string::npos) << table;
  EXPECT_NE(table.find("Linear(8 -> 2, no bias)"), std::string::npos) << table;
}

// torchvision.models.resnet34() has 21,797,672 parameters, of which fc (512·1000 + 1000) is
// 513,000: the body has 21,284,672 in 108 tensors and 72 running-statistic buffers (counted once
// with python3-torch 1.13 / torchvision 0.14). resnet18: 11,689,512 − 513,000 = 11,176,512.
TEST(Names, ResNetBodiesMatchTorchvisionCounts) {
  Generator gen(3);
  auto body34 = nn::resnet34_body(gen);
  EXPECT_EQ(body34->parameter_count(), 21284672);
  const std::vector<std::string> names = parameter_names(*body34);
  EXPECT_EQ(names.size(), 108u);
  EXPECT_EQ(buffer_names(*body34).size(), 72u);
  EXPECT_EQ(names[0], "0.weight");
  EXPECT_EQ(names[1], "1.weight");
  EXPECT_EQ(names[3], "4.0.conv1.weight");
  EXPECT_EQ(names.back(), "7.2.bn2.bias");
  auto body18 = nn::resnet18_body(gen);
  EXPECT_EQ(body18->parameter_count(), 11176512);
  EXPECT_THROW(nn::resnet_body(gen, {2, 2, 2}), Error);
}

// Body + fastai head: BN1d(1024) 2,048 + Linear(1024, 512) 524,800 + BN1d(512) 1,024 +
// Linear(512, 2) 1,026 = 528,898.
TEST(Names, ResNet34ClassifierGroupsAndHead) {
  Generator gen(4);
  auto model = nn::resnet34_classifier(gen, 2);
  EXPECT_EQ(model->parameter_count(), 21284672 + 528898);
  int body = 0, head = 0;
  model->visit_parameters("", [&](const std::string& n, nn::Parameter& p) {
    if (n.rfind("0.", 0) == 0) {
      EXPECT_EQ(p.group, 0) << n;
      ++body;
    } else {
      EXPECT_EQ(n.rfind("1.", 0), 0u) << n;
      EXPECT_EQ(p.group, 1) << n;
      ++head;
    }
  });
  EXPECT_EQ(body, 108);
  EXPECT_EQ(head, 8);
  std::map<std::string, Shape> shapes;
  model->visit_parameters(
      "", [&](const std::string& n, nn::Parameter& p) { shapes[n] = p.value.shape(); });
  EXPECT_EQ(shapes["1.2.weight"], (Shape{1024}));
  EXPECT_EQ(shapes["1.4.weight"], (Shape{512, 1024}));
  EXPECT_EQ(shapes["1.6.weight"], (Shape{512}));
  EXPECT_EQ(shapes["1.8.weight"], (Shape{2, 512}));
  const std::string table = model->describe();
  EXPECT_NE(table.find("AdaptiveConcatPool2d"), std::string::npos);
  EXPECT_NE(table.find("Dropout(p 0.25)"), std::string::npos);
  EXPECT_NE(table.find("Dropout(p 0.5)"), std::string::npos);
}

// A full ResNet-34 step at a tiny size: batch 2, 32×32 (the body reduces it to 1×1).
TEST(Names, ResNet34ForwardBackwardAtTinySize) {
  Generator gen(5), drop(6);
  auto model = nn::resnet34_classifier(gen, 2, 3);
  model->set_generator(&drop);
  model->set_input_grad(false);
  Tensor x = random_tensor({2, 3, 32, 32}, 7);
  const Tensor& logits = model->forward(x);
  ASSERT_EQ(logits.shape(), (Shape{2, 2}));
  for (float v : logits.to_vector()) EXPECT_TRUE(std::isfinite(v));
  Tensor labels = Tensor::from_data({2}, std::vector<float>{0, 1});
  Tensor loss, probs, dlogits;
  softmax_cross_entropy_forward(logits, labels, loss, probs);
  softmax_cross_entropy_backward(probs, labels, dlogits);
  EXPECT_FALSE(model->backward(dlogits).defined());
  int nonzero = 0;
  for (nn::Parameter* p : model->parameters()) {
    for (float v : p->grad.to_vector()) {
      ASSERT_TRUE(std::isfinite(v));
      nonzero += v != 0.0f;
    }
  }
  EXPECT_GT(nonzero, 1000000);
}

// ---- training
// ------------------------------------------------------------------------------------

// Toy 6×6 task: a 3-pixel bar, horizontal (class 1) or vertical (class 0), at a random place on
// a noisy background. Position-independent, so conv + global average pool can learn it.
struct ToyData {
  Tensor x, labels;
};
ToyData toy_data(int64_t n, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> x(static_cast<size_t>(n * 36)), labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float* img = &x[static_cast<size_t>(i * 36)];
    for (int k = 0; k < 36; ++k) img[k] = gen.next_uniform(0.0f, 0.3f);
    const bool horizontal = i % 2 == 1;
    const int r = static_cast<int>(gen.next_below(horizontal ? 6 : 4));
    const int c = static_cast<int>(gen.next_below(horizontal ? 4 : 6));
    for (int k = 0; k < 3; ++k) img[horizontal ? r * 6 + c + k : (r + k) * 6 + c] = 1.0f;
    labels[static_cast<size_t>(i)] = horizontal ? 1.0f : 0.0f;
  }
  return {Tensor::from_data({n, 1, 6, 6}, x), Tensor::from_data({n}, labels)};
}

// conv-BN-ReLU-conv-BN-ReLU-adaptive avg pool-flatten(-dropout)-linear
std::unique_ptr<nn::Sequential> tiny_cnn(Generator& gen, float dropout) {
  auto net = std::make_unique<nn::Sequential>();
  net->emplace<nn::Conv2d>(gen, 1, 8, 3, 1, 1, false);
  net->emplace<nn::BatchNorm2d>(8);
  net->emplace<nn::ReLU>(true);
  net->emplace<nn::Conv2d>(gen, 8, 8, 3, 1, 1, false);
  net->emplace<nn::BatchNorm2d>(8);
  net->emplace<nn::ReLU>(true);
  net->emplace<nn::AdaptiveAvgPool2d>(1);
  net->emplace<nn::Flatten>();
  if (dropout > 0.0f) net->emplace<nn::Dropout>(dropout);
  net->emplace<nn::Linear>(gen, 8, 2);
  net->set_input_grad(false);
  return net;
}

double accuracy(nn::Module& net, const ToyData& data) {
  Tensor pred;
  argmax_rows(net.forward(data.x), pred);
  const std::vector<float> p = pred.to_vector(), l = data.labels.to_vector();
  int correct = 0;
  for (size_t i = 0; i < p.size(); ++i) correct += p[i] == l[i];
  return static_cast<double>(correct) / static_cast<double>(p.size());
}

// One full-batch training step; returns the loss.
float train_step(nn::Module& net, optim::Optimizer& opt, const ToyData& data, Tensor& loss,
                 Tensor& probs, Tensor& dlogits) {
  const Tensor& logits = net.forward(data.x);
  softmax_cross_entropy_forward(logits, data.labels, loss, probs);
  softmax_cross_entropy_backward(probs, data.labels, dlogits);
  net.backward(dlogits);
  opt.step();
  return loss.item();
}

TEST(Training, TinyCnnLearnsBarOrientationToFullAccuracy) {
  set_num_threads(2);
  Generator gen(2024);
  auto net = tiny_cnn(gen, 0.0f);
  const ToyData data = toy_data(64, 99);
  optim::AdamW opt(net->parameters(), {.lr = 1e-2, .weight_decay = 0.0});
  Tensor loss, probs, dlogits;
  const float first_loss = train_step(*net, opt, data, loss, probs, dlogits);
  // Buffers are kept between steps: the second step reuses every output and gradient buffer.
  const float* out_before = net->forward(data.x).data();
  std::vector<const float*> grads_before;
  for (nn::Parameter* p : net->parameters()) grads_before.push_back(p->grad.data());
  train_step(*net, opt, data, loss, probs, dlogits);
  EXPECT_EQ(net->forward(data.x).data(), out_before);
  size_t i = 0;
  for (nn::Parameter* p : net->parameters()) EXPECT_EQ(p->grad.data(), grads_before[i++]);

  int steps = 2;
  double acc = 0.0;
  for (; steps <= 300; ++steps) {
    train_step(*net, opt, data, loss, probs, dlogits);
    if (steps % 10 == 0) {
      net->set_training(false);  // judged with the running statistics, as at prediction time
      acc = accuracy(*net, data);
      net->set_training(true);
      if (acc == 1.0) break;
    }
  }
  EXPECT_EQ(acc, 1.0) << "after " << steps << " steps";
  EXPECT_LT(loss.item(), 0.5f * first_loss);
  RecordProperty("steps_to_full_accuracy", steps);
  // Held-out images of the same task: the net learned the orientation, not the 64 samples.
  net->set_training(false);
  EXPECT_GE(accuracy(*net, toy_data(256, 7)), 0.9);
}

// Trains a fresh tiny CNN (with dropout, so the generator matters) for `steps` steps and returns
// every parameter and buffer value.
std::vector<std::vector<float>> train_and_collect(uint64_t seed, int steps) {
  Generator gen(seed), drop(seed + 1);
  auto net = tiny_cnn(gen, 0.3f);
  net->set_generator(&drop);
  const ToyData data = toy_data(32, seed + 2);
  optim::AdamW opt(net->parameters(), {.lr = 3e-3});
  optim::OneCycleSchedule sched({.max_lrs = {3e-3}, .total_steps = steps});
  Tensor loss, probs, dlogits;
  for (int s = 0; s < steps; ++s) {
    sched.apply(opt, s);
    train_step(*net, opt, data, loss, probs, dlogits);
  }
  std::vector<std::vector<float>> out;
  for (nn::Parameter* p : net->parameters()) out.push_back(p->value.to_vector());
  net->visit_buffers("", [&](const std::string&, Tensor& b) { out.push_back(b.to_vector()); });
  return out;
}

bool bit_identical(const std::vector<std::vector<float>>& a,
                   const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size() ||
        std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0) {
      return false;
    }
  }
  return true;
}

TEST(Training, SameSeedAndThreadsGiveBitIdenticalWeights) {
  set_num_threads(2);
  const auto first = train_and_collect(77, 25);
  const auto second = train_and_collect(77, 25);
  EXPECT_TRUE(bit_identical(first, second));
  EXPECT_FALSE(bit_identical(first, train_and_collect(78, 25)));
}

}  // namespace
}  // namespace keel
