// Builds a keel::nn model from the config's layer list (or the resnet shorthand), inferring each
// layer's input size from the image shape, so users change architectures without recompiling.
#pragma once

#include <string>
#include <vector>

#include "keel/config.h"
#include "keel/nn/sequential.h"
#include "keel/random.h"

namespace keel::train {

// in_channels x image_side x image_side inputs -> num_classes logits. Throws keel::Error(config)
// naming the config line of a layer that cannot follow the previous one.
std::unique_ptr<nn::Sequential> build_model(const Config& config, int64_t in_channels,
                                            int64_t image_side, Generator& gen);

}  // namespace keel::train
