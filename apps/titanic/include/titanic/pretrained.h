// model.pretrained: starting a run's models from a safetensors file (keel's own, or torchvision's
// ResNet names), strictly for the body and where names and shapes fit for the head.
#pragma once

#include <string>

#include "keel/io/safetensors.h"
#include "keel/nn/sequential.h"
#include "titanic/config.h"

namespace keel::train {

struct PretrainedLoad {
  std::string path;
  std::string sha256;
  WeightLoadReport report;
  std::string summary;  // one log line: file, hash, tensors loaded, what was kept or skipped
};

// Loads config.model.pretrained into a model that build_model made from the same config. A file
// with torchvision's names ("conv1.weight", "layer1.0...") fills a resnet body and its "fc."
// tensors are skipped; otherwise names are the model's own (save_safetensors). The body must be
// complete and fit; the head (resnet "1.", a layer list's last layer) is loaded only where names
// and shapes fit. The file is read and hashed once per process and path. Throws keel::Error(data)
// naming the file, the key and both shapes when the body does not fit.
PretrainedLoad load_pretrained(const Config& config, nn::Sequential& model);
// The SHA-256 of a model.pretrained file (read and hashed once per process, as above).
std::string pretrained_sha256(const std::string& path);

}  // namespace keel::train
