// BasicBlock and the ResNet / fastai builders (see keel/nn/resnet.h). Initialisation follows
// torchvision for the body and fastai v1 for the head, so a from-scratch run starts as theirs does.
#include "keel/nn/resnet.h"

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/nn/activation.h"
#include "keel/nn/init.h"
#include "keel/nn/linear.h"
#include "keel/nn/pooling.h"
#include "keel/ops.h"

namespace keel::nn {

namespace {
// torchvision's ResNet: kaiming_normal_(mode="fan_out", nonlinearity="relu") for every conv
// (all without bias).
void resnet_conv_init(Tensor& weight, Tensor& bias, Generator& gen) {
  kaiming_normal_(weight, gen, 0.0, FanMode::fan_out);
  if (bias.defined()) zeros_(bias);
}

// fastai v1's head: kaiming_normal_ (fan_in) weights, zero bias.
void head_linear_init(Tensor& weight, Tensor& bias, Generator& gen) {
  kaiming_normal_(weight, gen);
  if (bias.defined()) zeros_(bias);
}
}  // namespace

BasicBlock::BasicBlock(Generator& gen, int64_t in_channels, int64_t out_channels, int stride)
    : in_channels_(in_channels),
      out_channels_(out_channels),
      stride_(stride),
      conv1_(gen, in_channels, out_channels, 3, stride, 1, false, resnet_conv_init),
      bn1_(out_channels),
      conv2_(gen, out_channels, out_channels, 3, 1, 1, false, resnet_conv_init),
      bn2_(out_channels) {
  if (stride != 1 || in_channels != out_channels) {
    downsample_ = std::make_unique<Sequential>();
    downsample_->emplace<Conv2d>(gen, in_channels, out_channels, 1, stride, 0, false,
                                 resnet_conv_init);
    downsample_->emplace<BatchNorm2d>(out_channels);
  }
}

const Tensor& BasicBlock::forward(const Tensor& x) {
  // bn1 and its ReLU as one fused pass (bn1's output buffer holds relu(bn1(conv1(x)))).
  mid_ = bn1_.forward_relu(conv1_.forward(x));
  const Tensor& main = bn2_.forward(conv2_.forward(mid_));
  const Tensor& shortcut = downsample_ ? downsample_->forward(x) : x;
  if (main.shape() != shortcut.shape()) {
    throw Error(ErrorKind::runtime, fmt::format("{}: residual shapes differ, {} and {}", describe(),
                                                main.shape().str(), shortcut.shape().str()));
  }
  add(main, shortcut, sum_);
  relu_forward(sum_, sum_);
  return sum_;
}

const Tensor& BasicBlock::backward(const Tensor& dy) {
  relu_backward(sum_, dy, d_sum_);
  // Main path.
  const Tensor& g2 = conv2_.backward(bn2_.backward(d_sum_));
  conv1_.set_input_grad(input_grad());
  const Tensor& g_main = conv1_.backward(bn1_.backward_relu(g2));
  // Shortcut: the downsample's parameters need their gradients even when dx is not wanted.
  const Tensor* g_short = &d_sum_;
  if (downsample_) {
    downsample_->set_input_grad(input_grad());
    g_short = &downsample_->backward(d_sum_);
  }
  if (!input_grad()) return none_;
  add(g_main, *g_short, dx_);
  return dx_;
}

std::string BasicBlock::describe() const {
  return fmt::format("BasicBlock({} -> {}, stride {}{})", in_channels_, out_channels_, stride_,
                     downsample_ ? ", downsample" : "");
}

void BasicBlock::visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {
  conv1_.visit_parameters(prefix + "conv1.", visit);
  bn1_.visit_parameters(prefix + "bn1.", visit);
  conv2_.visit_parameters(prefix + "conv2.", visit);
  bn2_.visit_parameters(prefix + "bn2.", visit);
  if (downsample_) downsample_->visit_parameters(prefix + "downsample.", visit);
}

void BasicBlock::visit_buffers(const std::string& prefix, const BufferVisitor& visit) {
  bn1_.visit_buffers(prefix + "bn1.", visit);
  bn2_.visit_buffers(prefix + "bn2.", visit);
  if (downsample_) downsample_->visit_buffers(prefix + "downsample.", visit);
}

void BasicBlock::visit_children(const std::function<void(Module&)>& visit) {
  visit(conv1_);
  visit(bn1_);
  visit(conv2_);
  visit(bn2_);
  if (downsample_) visit(*downsample_);
}

std::unique_ptr<Sequential> resnet_body(Generator& gen, const std::vector<int>& layers,
                                        int64_t in_channels, int64_t width) {
  if (layers.size() != 4) {
    throw Error(ErrorKind::usage,
                fmt::format("resnet_body: expected 4 stage depths (e.g. {{3, 4, 6, 3}}), got {}",
                            layers.size()));
  }
  for (int depth : layers) {
    if (depth <= 0) throw Error(ErrorKind::usage, "resnet_body: every stage needs a block");
  }
  if (width <= 0) throw Error(ErrorKind::usage, "resnet_body: the width must be positive");
  auto body = std::make_unique<Sequential>();
  body->emplace<Conv2d>(gen, in_channels, width, 7, 2, 3, false, resnet_conv_init);
  body->emplace<BatchNorm2d>(width);
  body->emplace<ReLU>(true);
  body->emplace<MaxPool2d>(3, 2, 1);
  int64_t channels = width;
  for (size_t stage = 0; stage < layers.size(); ++stage) {
    const int64_t stage_width = width << stage;
    auto blocks = std::make_unique<Sequential>();
    for (int b = 0; b < layers[stage]; ++b) {
      const int stride = (stage > 0 && b == 0) ? 2 : 1;
      blocks->emplace<BasicBlock>(gen, channels, stage_width, stride);
      channels = stage_width;
    }
    body->add(std::move(blocks));
  }
  return body;
}

std::unique_ptr<Sequential> resnet18_body(Generator& gen, int64_t in_channels) {
  return resnet_body(gen, {2, 2, 2, 2}, in_channels);
}

std::unique_ptr<Sequential> resnet34_body(Generator& gen, int64_t in_channels) {
  return resnet_body(gen, {3, 4, 6, 3}, in_channels);
}

std::unique_ptr<Sequential> fastai_head(Generator& gen, int64_t features, int64_t num_classes,
                                        const HeadOptions& options) {
  const int64_t hidden = options.hidden;
  auto head = std::make_unique<Sequential>();
  head->emplace<AdaptiveConcatPool2d>(1);
  head->emplace<Flatten>();
  head->emplace<BatchNorm1d>(2 * features);
  head->emplace<Dropout>(options.dropout1);
  head->emplace<Linear>(gen, 2 * features, hidden, true, head_linear_init);
  head->emplace<ReLU>(true);
  head->emplace<BatchNorm1d>(hidden);
  head->emplace<Dropout>(options.dropout2);
  head->emplace<Linear>(gen, hidden, num_classes, true, head_linear_init);
  return head;
}

std::unique_ptr<Sequential> resnet_classifier(Generator& gen, const std::vector<int>& layers,
                                              int64_t num_classes, int64_t in_channels,
                                              const HeadOptions& head_options, int64_t width) {
  auto body = resnet_body(gen, layers, in_channels, width);
  auto head = fastai_head(gen, 8 * width, num_classes, head_options);
  body->set_group(0);
  head->set_group(1);
  auto model = std::make_unique<Sequential>();
  model->add(std::move(body));
  model->add(std::move(head));
  return model;
}

std::unique_ptr<Sequential> resnet34_classifier(Generator& gen, int64_t num_classes,
                                                int64_t in_channels) {
  return resnet_classifier(gen, {3, 4, 6, 3}, num_classes, in_channels);
}

std::vector<std::pair<std::string, std::string>> torchvision_resnet_renames(
    const std::string& body_prefix) {
  // torchvision's children in order: conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc; the
  // body keeps the first eight under their indices.
  return {{"conv1.", body_prefix + "0."},  {"bn1.", body_prefix + "1."},
          {"layer1.", body_prefix + "4."}, {"layer2.", body_prefix + "5."},
          {"layer3.", body_prefix + "6."}, {"layer4.", body_prefix + "7."}};
}

}  // namespace keel::nn
