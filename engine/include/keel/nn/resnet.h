// ResNet building blocks and builders: BasicBlock, the resnet18/34 body (torchvision's layout,
// without pooling and fc) and the fastai v1 classifier of PIPELINE.md §4 (body + concat-pool head).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "keel/nn/batch_norm.h"
#include "keel/nn/conv.h"
#include "keel/nn/module.h"
#include "keel/nn/sequential.h"

namespace keel::nn {

// conv3x3(stride) - BN - ReLU - conv3x3 - BN, plus the shortcut (identity, or conv1x1(stride) -
// BN when the shape changes), added, then ReLU. Children: conv1, bn1, conv2, bn2, downsample.0,
// downsample.1 (torchvision's names). Convolutions are initialised as torchvision does:
// kaiming_normal_, fan_out, ReLU gain; BN weight 1, bias 0.
class BasicBlock : public Module {
 public:
  BasicBlock(Generator& gen, int64_t in_channels, int64_t out_channels, int stride = 1);

  // x: (N, in, H, W) -> y: (N, out, H', W'), H' = (H - 1) / stride + 1
  const Tensor& forward(const Tensor& x) override;
  const Tensor& backward(const Tensor& dy) override;
  std::string describe() const override;
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;
  void visit_buffers(const std::string& prefix, const BufferVisitor& visit) override;
  void visit_children(const std::function<void(Module&)>& visit) override;

  bool has_downsample() const { return downsample_ != nullptr; }

 protected:
  void drop_views() override { mid_ = Tensor(); }

 private:
  int64_t in_channels_, out_channels_;
  int stride_;
  Conv2d conv1_;
  BatchNorm2d bn1_;
  Conv2d conv2_;
  BatchNorm2d bn2_;
  std::unique_ptr<Sequential> downsample_;
  Tensor mid_;  // relu(bn1(conv1(x))): bn1's output buffer, from its fused forward_relu
  Tensor sum_, d_sum_, dx_, none_;
};

// The ResNet body: stem conv7x7/2 (no bias) - BN - ReLU - maxpool 3/2 pad 1, then four stages of
// BasicBlocks with 64, 128, 256, 512 channels (stride 2 from the second stage on).
// layers: {2, 2, 2, 2} for resnet18, {3, 4, 6, 3} for resnet34. `width` replaces the 64 of the
// stem and first stage (the others are 2x, 4x, 8x it): narrow copies of the structure, for tests.
// Children "0".."7" as in fastai's body (nn.Sequential of torchvision's children minus pool/fc).
// x: (N, in_channels, H, W) -> y: (N, 8 width, H/32, W/32) (rounded as the convolutions round)
std::unique_ptr<Sequential> resnet_body(Generator& gen, const std::vector<int>& layers,
                                        int64_t in_channels = 3, int64_t width = 64);
std::unique_ptr<Sequential> resnet18_body(Generator& gen, int64_t in_channels = 3);
std::unique_ptr<Sequential> resnet34_body(Generator& gen, int64_t in_channels = 3);

// The head's sizes; the defaults are fastai v1's (ps = 0.5: p/2 before the first linear layer).
struct HeadOptions {
  int64_t hidden = 512;
  float dropout1 = 0.25f;
  float dropout2 = 0.5f;
};

// fastai v1's create_head for a body with `features` output channels: AdaptiveConcatPool2d -
// Flatten - BatchNorm1d(2 features) - Dropout(dropout1) - Linear(2 features, hidden) - ReLU -
// BatchNorm1d(hidden) - Dropout(dropout2) - Linear(hidden, num_classes). Linear layers
// kaiming_normal_ with zero bias, as fastai initialises its head.
std::unique_ptr<Sequential> fastai_head(Generator& gen, int64_t features, int64_t num_classes,
                                        const HeadOptions& options = {});

// Sequential(body, head): "0.*" the body in parameter group 0, "1.*" the head in group 1.
std::unique_ptr<Sequential> resnet_classifier(Generator& gen, const std::vector<int>& layers,
                                              int64_t num_classes, int64_t in_channels = 3,
                                              const HeadOptions& head = {}, int64_t width = 64);

// Prefix renames from torchvision's ResNet names ("conv1.", "bn1.", "layer1." .. "layer4.") to
// those of resnet_body under `body_prefix` ("0." in resnet_classifier), for loading published
// weights (keel/io/safetensors.h WeightLoadOptions::renames). torchvision's "fc." has no match.
std::vector<std::pair<std::string, std::string>> torchvision_resnet_renames(
    const std::string& body_prefix);
std::unique_ptr<Sequential> resnet34_classifier(Generator& gen, int64_t num_classes,
                                                int64_t in_channels = 3);

}  // namespace keel::nn
