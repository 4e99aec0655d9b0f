// A tiny CNN trained with libkeel from another project: tell a vertical bar from a horizontal one
// in noisy 6x6 images. Prints the training accuracy; exits 1 if the model did not learn the task.
// With a file argument, saves the trained weights there (safetensors) for the predict example.
#include <cstdio>
#include <vector>

#include <keel/io/safetensors.h>
#include <keel/nn.h>
#include <keel/ops.h>
#include <keel/optim.h>
#include <keel/runtime.h>

#include "bars.h"

namespace {

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

int main(int argc, char** argv) {
  keel::set_num_threads(2);
  keel::Generator gen(0);
  keel::Tensor images, labels;
  bars::make_bars(128, gen, images, labels);

  keel::nn::Sequential model;
  bars::build_model(model, gen);

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
  // The trained weights for the predict example, under PyTorch's names.
  if (argc > 1) keel::save_safetensors(model, argv[1]);
  return acc == 1.0 ? 0 : 1;
}
