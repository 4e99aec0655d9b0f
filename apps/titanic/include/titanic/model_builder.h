// Builds a keel::nn model from the config's layer list (or the resnet shorthand), inferring each
// layer's input size from the image shape, so users change architectures without recompiling.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "keel/nn/sequential.h"
#include "keel/random.h"
#include "titanic/config.h"

namespace keel::train {

// The shape pass alone, for a run to call once the image size is known and before any training:
// walks the layer list with in_channels x image_side x image_side inputs, channels and height x
// width through every layer, and throws keel::Error(config) naming the config file and line, the
// layer's index in model.layers, its type and its input shape, for a layer PyTorch would refuse:
// an empty output, a kernel larger than the padded input, pool padding over half the kernel, an
// image layer after `flatten`, `linear` before it, or a model that does not end in num_classes
// scores. Adaptive pools accept any input, as in PyTorch. The resnet shorthands fit every image.
void check_model_shapes(const Config& config, int64_t in_channels, int64_t image_side);

// in_channels x image_side x image_side inputs -> num_classes logits. Runs the same shape pass
// first, so it throws the same errors.
std::unique_ptr<nn::Sequential> build_model(const Config& config, int64_t in_channels,
                                            int64_t image_side, Generator& gen);

}  // namespace keel::train
