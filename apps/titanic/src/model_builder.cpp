// Layer-list models: a dry pass over the config's layers computes every activation shape and
// refuses a layer that cannot run, then the matching keel::nn modules are made from those shapes;
// the resnet shorthand maps to nn::resnet*_classifier.
#include "titanic/model_builder.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/nn/activation.h"
#include "keel/nn/batch_norm.h"
#include "keel/nn/conv.h"
#include "keel/nn/linear.h"
#include "keel/nn/pooling.h"
#include "keel/nn/resnet.h"
#include "keel/ops.h"
#include "schema.h"

namespace keel::train {

namespace {

// Activation shape between layers: (channels, height, width) while spatial, (features) after.
struct ActivationShape {
  int64_t channels, height, width;
  bool spatial = true;
  int64_t features() const { return spatial ? channels * height * width : channels; }
  std::string str() const {
    return spatial ? fmt::format("{}x{}x{} (channels x height x width)", channels, height, width)
                   : fmt::format("{} features", channels);
  }
};

struct LayerShapes {
  ActivationShape in, out;
};

// A layer argument as the config wrote it, else its default from the layer table
// (schema.cpp, the one place defaults are written: a config read from a file has them
// filled in already, one assembled in code may not); nullopt for a missing required argument.
std::optional<double> layer_arg(const LayerSpec& spec, const std::string& name) {
  if (auto it = spec.args.find(name); it != spec.args.end()) return it->second;
  const config_detail::LayerTypeSpec* type = config_detail::find_layer(spec.type);
  if (!type) return std::nullopt;
  for (const config_detail::LayerArgSpec& a : type->args) {
    if (a.name != name) continue;
    if (a.default_value) return a.default_value;
    if (!a.default_from.empty()) return layer_arg(spec, a.default_from);
  }
  return std::nullopt;
}

// The dry forward pass over shapes only: each layer's output shape from its input and arguments,
// refused with PyTorch's rules where the layer could not run or would give an empty output.
class ShapePass {
 public:
  ShapePass(const Config& config, ActivationShape input) : config_(config), shape_(input) {}

  LayerShapes next(const LayerSpec& spec, size_t index) {
    spec_ = &spec;
    index_ = index;
    LayerShapes shapes{shape_, output_of(spec)};
    shape_ = shapes.out;
    return shapes;
  }

 private:
  ActivationShape output_of(const LayerSpec& spec) const {
    const std::string& t = spec.type;
    if (t == "conv2d") return conv2d();
    if (t == "max_pool" || t == "avg_pool") return pool();
    if (t == "adaptive_avg_pool" || t == "adaptive_max_pool" || t == "adaptive_concat_pool") {
      return adaptive_pool(t == "adaptive_concat_pool");
    }
    if (t == "flatten") return {shape_.features(), 1, 1, false};
    if (t == "linear") return linear();
    if (t == "batch_norm" || t == "relu" || t == "dropout") return shape_;
    fail(fmt::format("unknown layer type `{}`", t));
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(
        ErrorKind::config,
        fmt::format("{}:{}: model.layers[{}] ({}) with input {}: {} (see configs/README.md, "
                    "\"Layers\")",
                    config_.source, spec_->line, index_, spec_->type, shape_.str(), what));
  }
  int int_arg(const std::string& name) const {
    const std::optional<double> value = layer_arg(*spec_, name);
    if (!value) fail(fmt::format("the required argument `{}` is missing", name));
    return static_cast<int>(*value);
  }
  void require_spatial() const {
    if (!shape_.spatial)
      fail(fmt::format("`{}` needs an image input but follows `flatten`", spec_->type));
  }
  // Refuses a window that does not fit the padded input, naming the output it would give.
  void require_window_fits(int64_t out_channels, int kernel, int stride, int padding) const {
    const int64_t h = conv_out_size(shape_.height, kernel, stride, padding);
    const int64_t w = conv_out_size(shape_.width, kernel, stride, padding);
    if (h >= 1 && w >= 1) return;
    fail(fmt::format(
        "the output would be {}x{}x{}, empty: kernel {} is larger than the padded "
        "input {}x{} (padding {} on each side). Use a kernel of at most {}, more "
        "padding, or remove a layer that shrinks the image before it",
        out_channels, h, w, kernel, shape_.height + 2 * padding, shape_.width + 2 * padding,
        padding, std::min(shape_.height, shape_.width) + 2 * padding));
  }

  ActivationShape conv2d() const {
    require_spatial();
    const int kernel = int_arg("kernel"), stride = int_arg("stride"), padding = int_arg("padding");
    const int out = int_arg("out");
    require_window_fits(out, kernel, stride, padding);
    return {out, conv_out_size(shape_.height, kernel, stride, padding),
            conv_out_size(shape_.width, kernel, stride, padding), true};
  }

  ActivationShape pool() const {
    require_spatial();
    const int kernel = int_arg("kernel"), stride = int_arg("stride"), padding = int_arg("padding");
    // PyTorch's rule: a wider padding would make windows of padding only. The config reader
    // already refuses it; this keeps configs assembled in code to the same rule.
    if (2 * padding > kernel) {
      fail(fmt::format("padding {} is more than half the kernel {}; use padding {} at most",
                       padding, kernel, kernel / 2));
    }
    require_window_fits(shape_.channels, kernel, stride, padding);
    return {shape_.channels, conv_out_size(shape_.height, kernel, stride, padding),
            conv_out_size(shape_.width, kernel, stride, padding), true};
  }

  // Any size fits, as in PyTorch: an output larger than the input repeats input cells.
  ActivationShape adaptive_pool(bool concat) const {
    require_spatial();
    const int size = int_arg("size");
    return {concat ? 2 * shape_.channels : shape_.channels, size, size, true};
  }

  ActivationShape linear() const {
    if (shape_.spatial) fail("`linear` needs a flat input: add `- flatten` before it");
    return {int_arg("out"), 1, 1, false};
  }

  const Config& config_;
  ActivationShape shape_;
  const LayerSpec* spec_ = nullptr;
  size_t index_ = 0;
};

// Every layer's input and output shape for in_channels x image_side x image_side images, after
// checking that the list ends in num_classes scores.
std::vector<LayerShapes> trace_shapes(const Config& config, int64_t in_channels,
                                      int64_t image_side) {
  ShapePass pass(config, {in_channels, image_side, image_side, true});
  std::vector<LayerShapes> shapes;
  for (size_t i = 0; i < config.model.layers.size(); ++i) {
    shapes.push_back(pass.next(config.model.layers[i], i));
  }
  const ActivationShape out = shapes.empty()
                                  ? ActivationShape{in_channels, image_side, image_side, true}
                                  : shapes.back().out;
  if (out.spatial || out.channels != config.model.num_classes) {
    throw Error(
        ErrorKind::config,
        fmt::format("{}: the model ends with {} {} but must end with {} class scores: make "
                    "the last layer `- linear: {{out: {}}}` after a `- flatten`",
                    config.source, out.features(), out.spatial ? "image values" : "features",
                    config.model.num_classes, config.model.num_classes));
  }
  return shapes;
}

// The module of one layer whose shapes the pass has already checked.
nn::ModulePtr make_layer(const LayerSpec& spec, const LayerShapes& s, Generator& gen) {
  const std::string& t = spec.type;
  // Every argument read here has a default in the layer table, or the shape pass has read it.
  auto arg = [&](const std::string& name) { return layer_arg(spec, name).value(); };
  auto int_arg = [&](const std::string& name) { return static_cast<int>(arg(name)); };
  if (t == "conv2d") {
    return std::make_unique<nn::Conv2d>(gen, s.in.channels, s.out.channels, int_arg("kernel"),
                                        int_arg("stride"), int_arg("padding"), arg("bias") != 0.0);
  }
  if (t == "batch_norm") {
    const auto eps = static_cast<float>(arg("eps")), momentum = static_cast<float>(arg("momentum"));
    if (s.in.spatial) return std::make_unique<nn::BatchNorm2d>(s.in.channels, eps, momentum);
    return std::make_unique<nn::BatchNorm1d>(s.in.channels, eps, momentum);
  }
  if (t == "relu") return std::make_unique<nn::ReLU>();
  if (t == "dropout") return std::make_unique<nn::Dropout>(static_cast<float>(arg("p")));
  if (t == "max_pool" || t == "avg_pool") {
    const int kernel = int_arg("kernel"), stride = int_arg("stride"), padding = int_arg("padding");
    if (t == "max_pool") return std::make_unique<nn::MaxPool2d>(kernel, stride, padding);
    return std::make_unique<nn::AvgPool2d>(kernel, stride, padding);
  }
  if (t == "adaptive_avg_pool") return std::make_unique<nn::AdaptiveAvgPool2d>(s.out.height);
  if (t == "adaptive_max_pool") return std::make_unique<nn::AdaptiveMaxPool2d>(s.out.height);
  if (t == "adaptive_concat_pool") return std::make_unique<nn::AdaptiveConcatPool2d>(s.out.height);
  if (t == "flatten") return std::make_unique<nn::Flatten>();
  return std::make_unique<nn::Linear>(gen, s.in.channels,
                                      s.out.channels);  // the pass knows no other
}

std::unique_ptr<nn::Sequential> build_layer_list(const Config& config, int64_t in_channels,
                                                 int64_t image_side, Generator& gen) {
  const std::vector<LayerShapes> shapes = trace_shapes(config, in_channels, image_side);
  auto model = std::make_unique<nn::Sequential>();
  for (size_t i = 0; i < shapes.size(); ++i)
    model->add(make_layer(config.model.layers[i], shapes[i], gen));
  return model;
}

bool is_resnet(const Config& config) {
  return config.model.arch == "resnet34" || config.model.arch == "resnet18";
}

}  // namespace

void check_model_shapes(const Config& config, int64_t in_channels, int64_t image_side) {
  // The resnet stem (7x7 stride 2 padding 3, then 3x3 stride 2 padding 1) and its stride-2 stages
  // give at least 1x1 from any image of at least 1x1, so only a layer list can fail here.
  if (is_resnet(config)) return;
  trace_shapes(config, in_channels, image_side);
}

std::unique_ptr<nn::Sequential> build_model(const Config& config, int64_t in_channels,
                                            int64_t image_side, Generator& gen) {
  std::unique_ptr<nn::Sequential> model;
  const nn::HeadOptions head{config.model.head_hidden,
                             static_cast<float>(config.model.head_dropout1),
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
