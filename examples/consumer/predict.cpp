// Load-and-predict with libkeel's keel::Model: build the architecture, load the weights tiny_train
// saved (safetensors, checked name by name and shape by shape), classify new images in evaluation
// mode and print the probabilities. Exits 1 unless it classifies every new image correctly.
#include <cstdio>
#include <vector>

#include <keel/error.h>
#include <keel/model.h>
#include <keel/nn.h>
#include <keel/runtime.h>

#include "bars.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: predict WEIGHTS.safetensors (written by tiny_train)\n");
    return 2;
  }
  keel::set_num_threads(2);
  keel::Generator gen(1);  // another seed than training: these images are new
  auto architecture = std::make_unique<keel::nn::Sequential>();
  bars::build_model(*architecture, gen);
  try {
    keel::Model model = keel::Model::from_safetensors(std::move(architecture), argv[1]);

    keel::Tensor images, labels;
    bars::make_bars(32, gen, images, labels);
    const std::vector<float> p = model.probabilities(images).to_vector();
    const std::vector<int> predicted = model.classes(images);
    const std::vector<float> y = labels.to_vector();
    int correct = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      correct += predicted[i] == static_cast<int>(y[i]);
      if (i < 3) {
        std::printf("image %zu: P(vertical) = %.4f, truth %s\n", i, p[2 * i + 1],
                    y[i] != 0.0f ? "vertical" : "horizontal");
      }
    }
    const double acc = static_cast<double>(correct) / static_cast<double>(y.size());
    std::printf("keel predict: %zu new images, accuracy %.3f\n", y.size(), acc);
    return acc == 1.0 ? 0 : 1;
  } catch (const keel::Error& e) {
    std::fprintf(stderr, "predict: %s\n", e.what());
    return 2;
  }
}
