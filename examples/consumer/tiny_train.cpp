// A tiny CNN trained with libkeel from another project: tell a vertical bar from a horizontal one
// in noisy 6x6 images. Prints the training accuracy; exits 1 if the model did not learn the task.
#include <cstdio>
#include <vector>

#include <keel/nn.h>
#include <keel/ops.h>
#include <keel/optim.h>
#include <keel/runtime.h>

namespace {

// n images (n, 1, 6, 6): a bar in a random row or column plus uniform noise; label 1 = vertical.
void make_bars(int64_t n, keel::Generator& gen, keel::Tensor& images, keel::Tensor& labels) {
  std::vector<float> pixels(static_cast<size_t>(n * 36)), classes(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const bool vertical = gen.next_below(2) == 1;
    const auto line = static_cast<int64_t>(gen.next_below(6));
    for (int64_t y = 0; y < 6; ++y) {
      for (int64_t x = 0; x < 6; ++x) {
        const bool on = vertical ? x == line : y == line;
        pixels[static_cast<size_t>(i * 36 + y * 6 + x)] = (on ? 1.0f : 0.0f) + gen.next_uniform(0.0f, 0.3f);
      }
    }
    classes[static_cast<size_t>(i)] = vertical ? 1.0f : 0.0f;
  }
  images = keel::Tensor::from_data({n, 1, 6, 6}, pixels);
  labels = keel::Tensor::from_data({n}, classes);
}

double accuracy(keel::nn::Module& model, const keel::Tensor& images, const keel::Tensor& labels) {
  model.set_training(false);
  keel::Tensor predicted;
  keel::argmax_rows(model.forward(images), predicted);
  model.set_training(true);
  const std::vector<float> p = predicted.to_vector(), y = labels.to_vector();
  int correct = 0;
  for (size_t i = 0; i < p.size(); ++i) correct += p[i] == y[i];
  return static_cast<double>(correct) / static_cast<double>(p.size());
}

}  // namespace

int main() {
  keel::set_num_threads(2);
  keel::Generator gen(0);
  keel::Tensor images, labels;
  make_bars(128, gen, images, labels);

  keel::nn::Sequential model;
  model.emplace<keel::nn::Conv2d>(gen, 1, 8, 3, 1, 1);
  model.emplace<keel::nn::BatchNorm2d>(8);
  model.emplace<keel::nn::ReLU>();
  model.emplace<keel::nn::Conv2d>(gen, 8, 16, 3, 1, 1);
  model.emplace<keel::nn::BatchNorm2d>(16);
  model.emplace<keel::nn::ReLU>();
  model.emplace<keel::nn::AdaptiveAvgPool2d>(1);
  model.emplace<keel::nn::Flatten>();
  model.emplace<keel::nn::Linear>(gen, 16, 2);
  model[0].set_input_grad(false);

  keel::optim::AdamWOptions options;
  options.lr = 1e-2;
  keel::optim::AdamW optimizer(model.parameters(), options);
  keel::Tensor loss, probs, dlogits;
  for (int step = 0; step < 60; ++step) {
    keel::softmax_cross_entropy_forward(model.forward(images), labels, loss, probs);
    keel::softmax_cross_entropy_backward(probs, labels, dlogits);
    model.backward(dlogits);
    optimizer.step();
  }
  const double acc = accuracy(model, images, labels);
  std::printf("keel consumer: %lld parameters, final loss %.4f, training accuracy %.3f\n",
              static_cast<long long>(model.parameter_count()), loss.item(), acc);
  return acc == 1.0 ? 0 : 1;
}
