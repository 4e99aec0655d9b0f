// Load-and-predict with libkeel: build the architecture, load the weights tiny_train saved
// (safetensors, checked name by name and shape by shape), run new images in evaluation mode and
// print the probabilities. Exits 1 unless it classifies every new image correctly.
#include <cstdio>
#include <vector>

#include <keel/error.h>
#include <keel/io/safetensors.h>
#include <keel/nn.h>
#include <keel/ops.h>
#include <keel/runtime.h>

#include "bars.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: predict WEIGHTS.safetensors (written by tiny_train)\n");
    return 2;
  }
  keel::set_num_threads(2);
  keel::Generator gen(1);  // another seed than training: these images are new
  keel::nn::Sequential model;
  bars::build_model(model, gen);
  try {
    keel::load_safetensors(model, argv[1]);
  } catch (const keel::Error& e) {
    std::fprintf(stderr, "predict: %s\n", e.what());
    return 2;
  }
  model.set_training(false);  // batch norm from its running statistics

  keel::Tensor images, labels, loss, probs;
  bars::make_bars(32, gen, images, labels);
  keel::softmax_cross_entropy_forward(model.forward(images), labels, loss, probs);
  const std::vector<float> p = probs.to_vector(), y = labels.to_vector();
  int correct = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const int predicted = p[2 * i + 1] > p[2 * i] ? 1 : 0;
    correct += predicted == static_cast<int>(y[i]);
    if (i < 3) {
      std::printf("image %zu: P(vertical) = %.4f, truth %s\n", i, p[2 * i + 1],
                  y[i] != 0.0f ? "vertical" : "horizontal");
    }
  }
  const double acc = static_cast<double>(correct) / static_cast<double>(y.size());
  std::printf("keel predict: %zu new images, accuracy %.3f\n", y.size(), acc);
  return acc == 1.0 ? 0 : 1;
}
