// Layer-list models: walks the config's layers, tracking the activation shape, and creates the
// matching keel::nn modules; the resnet shorthand maps to nn::resnet*_classifier.
#include "keel/train/model_builder.h"

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/nn/activation.h"
#include "keel/nn/batch_norm.h"
#include "keel/nn/conv.h"
#include "keel/nn/linear.h"
#include "keel/nn/pooling.h"
#include "keel/nn/resnet.h"
#include "keel/ops.h"

namespace keel::train {

namespace {

// Activation shape between layers: (channels, height, width) while spatial, (features) after.
struct ActivationShape {
  int64_t channels, height, width;
  bool spatial = true;
  int64_t features() const { return spatial ? channels * height * width : channels; }
};

class LayerBuilder {
 public:
  LayerBuilder(const Config& config, ActivationShape shape, Generator& gen)
      : config_(config), shape_(shape), gen_(gen) {}

  nn::ModulePtr build(const LayerSpec& spec) {
    spec_ = &spec;
    const std::string& t = spec.type;
    if (t == "conv2d") return conv2d();
    if (t == "batch_norm") return batch_norm();
    if (t == "relu") return std::make_unique<nn::ReLU>();
    if (t == "dropout") return std::make_unique<nn::Dropout>(static_cast<float>(arg("p", 0.5)));
    if (t == "max_pool" || t == "avg_pool") return pool(t == "max_pool");
    if (t == "adaptive_avg_pool" || t == "adaptive_max_pool" || t == "adaptive_concat_pool")
      return adaptive_pool(t);
    if (t == "flatten") return flatten();
    if (t == "linear") return linear();
    fail(fmt::format("unknown layer type `{}`", t));
  }

  const ActivationShape& shape() const { return shape_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorKind::config,
                fmt::format("{}:{}: {} (see configs/README.md, \"Layers\")", config_.source,
                            spec_ ? spec_->line : 0, what));
  }

 private:
  double arg(const std::string& name, double fallback) const {
    auto it = spec_->args.find(name);
    return it == spec_->args.end() ? fallback : it->second;
  }
  int int_arg(const std::string& name, double fallback) const {
    return static_cast<int>(arg(name, fallback));
  }
  void require_spatial() const {
    if (!shape_.spatial) fail(fmt::format("`{}` needs an image input but follows `flatten`", spec_->type));
  }

  nn::ModulePtr conv2d() {
    require_spatial();
    const int out = int_arg("out", 0), kernel = int_arg("kernel", 3), stride = int_arg("stride", 1),
              padding = int_arg("padding", 0);
    const int64_t h = conv_out_size(shape_.height, kernel, stride, padding);
    const int64_t w = conv_out_size(shape_.width, kernel, stride, padding);
    if (h < 1 || w < 1) {
      fail(fmt::format("conv2d kernel {} does not fit a {}x{} input; add padding or use a smaller "
                       "kernel", kernel, shape_.height, shape_.width));
    }
    auto layer = std::make_unique<nn::Conv2d>(gen_, shape_.channels, out, kernel, stride, padding,
                                              arg("bias", 1.0) != 0.0);
    shape_ = {out, h, w, true};
    return layer;
  }

  nn::ModulePtr batch_norm() {
    const auto eps = static_cast<float>(arg("eps", 1e-5)), momentum = static_cast<float>(arg("momentum", 0.1));
    if (shape_.spatial) return std::make_unique<nn::BatchNorm2d>(shape_.channels, eps, momentum);
    return std::make_unique<nn::BatchNorm1d>(shape_.channels, eps, momentum);
  }

  nn::ModulePtr pool(bool max) {
    require_spatial();
    const int kernel = int_arg("kernel", 2), stride = int_arg("stride", kernel),
              padding = int_arg("padding", 0);
    const int64_t h = conv_out_size(shape_.height, kernel, stride, padding);
    const int64_t w = conv_out_size(shape_.width, kernel, stride, padding);
    if (h < 1 || w < 1) {
      fail(fmt::format("pool kernel {} does not fit a {}x{} input", kernel, shape_.height, shape_.width));
    }
    shape_.height = h;
    shape_.width = w;
    if (max) return std::make_unique<nn::MaxPool2d>(kernel, stride, padding);
    return std::make_unique<nn::AvgPool2d>(kernel, stride, padding);
  }

  nn::ModulePtr adaptive_pool(const std::string& type) {
    require_spatial();
    const int size = int_arg("size", 1);
    shape_.height = shape_.width = size;
    if (type == "adaptive_avg_pool") return std::make_unique<nn::AdaptiveAvgPool2d>(size);
    if (type == "adaptive_max_pool") return std::make_unique<nn::AdaptiveMaxPool2d>(size);
    shape_.channels *= 2;  // max and average side by side
    return std::make_unique<nn::AdaptiveConcatPool2d>(size);
  }

  nn::ModulePtr flatten() {
    shape_ = {shape_.features(), 1, 1, false};
    return std::make_unique<nn::Flatten>();
  }

  nn::ModulePtr linear() {
    if (shape_.spatial) fail("`linear` needs a flat input: add `- flatten` before it");
    const int out = int_arg("out", 0);
    auto layer = std::make_unique<nn::Linear>(gen_, shape_.channels, out);
    shape_.channels = out;
    return layer;
  }

  const Config& config_;
  ActivationShape shape_;
  Generator& gen_;
  const LayerSpec* spec_ = nullptr;
};

std::unique_ptr<nn::Sequential> build_layer_list(const Config& config, int64_t in_channels,
                                                 int64_t image_side, Generator& gen) {
  auto model = std::make_unique<nn::Sequential>();
  LayerBuilder builder(config, {in_channels, image_side, image_side, true}, gen);
  for (const LayerSpec& spec : config.model.layers) model->add(builder.build(spec));
  const ActivationShape& out = builder.shape();
  if (out.spatial || out.channels != config.model.num_classes) {
    throw Error(ErrorKind::config,
                fmt::format("{}: the model ends with {} {} but must end with {} class scores: make "
                            "the last layer `- linear: {{out: {}}}` after a `- flatten`",
                            config.source, out.features(), out.spatial ? "image values" : "features",
                            config.model.num_classes, config.model.num_classes));
  }
  return model;
}

}  // namespace

std::unique_ptr<nn::Sequential> build_model(const Config& config, int64_t in_channels,
                                            int64_t image_side, Generator& gen) {
  std::unique_ptr<nn::Sequential> model;
  const nn::HeadOptions head{config.model.head_hidden, static_cast<float>(config.model.head_dropout1),
                             static_cast<float>(config.model.head_dropout2)};
  if (config.model.arch == "resnet34") {
    model = nn::resnet_classifier(gen, {3, 4, 6, 3}, config.model.num_classes, in_channels, head);
  } else if (config.model.arch == "resnet18") {
    model = nn::resnet_classifier(gen, {2, 2, 2, 2}, config.model.num_classes, in_channels, head);
  } else {
    model = build_layer_list(config, in_channels, image_side, gen);
  }
  // The first layer's input is data: no gradient is needed for it.
  if (model->size() > 0) (*model)[0].set_input_grad(false);
  return model;
}

}  // namespace keel::train
