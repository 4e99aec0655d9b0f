// The bar task shared by tiny_train and predict: noisy 6x6 images of a vertical or horizontal
// bar, and the small CNN both programs build (predict loads the weights tiny_train saved).
#pragma once

#include <vector>

#include <keel/nn.h>

namespace bars {

// n images (n, 1, 6, 6): a bar in a random row or column plus uniform noise; label 1 = vertical.
inline void make_bars(int64_t n, keel::Generator& gen, keel::Tensor& images, keel::Tensor& labels) {
  std::vector<float> pixels(static_cast<size_t>(n * 36)), classes(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const bool vertical = gen.next_below(2) == 1;
    const auto line = static_cast<int64_t>(gen.next_below(6));
    for (int64_t y = 0; y < 6; ++y) {
      for (int64_t x = 0; x < 6; ++x) {
        const bool on = vertical ? x == line : y == line;
        pixels[static_cast<size_t>(i * 36 + y * 6 + x)] =
            (on ? 1.0f : 0.0f) + gen.next_uniform(0.0f, 0.3f);
      }
    }
    classes[static_cast<size_t>(i)] = vertical ? 1.0f : 0.0f;
  }
  images = keel::Tensor::from_data({n, 1, 6, 6}, pixels);
  labels = keel::Tensor::from_data({n}, classes);
}

// Conv - BN - ReLU - conv - BN - ReLU - global average pool - linear: (N, 1, 6, 6) -> (N, 2).
inline void build_model(keel::nn::Sequential& model, keel::Generator& gen) {
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
}

}  // namespace bars
