// The per-batch input pipeline. Resizing and normalisation run on the training device through ops;
// the seed recipe's random augmentations run on the CPU (keel::data transforms), then move over.
#include "keel/train/input_pipeline.h"

#include "keel/data/transforms.h"
#include "keel/ops.h"

namespace keel::train {

InputPipeline::InputPipeline(const InputOptions& options, Device device)
    : options_(options), device_(device) {
  if (options_.imagenet_normalize) {
    mean_ = Tensor::from_data({3}, std::vector<float>(data::kImagenetMean.begin(), data::kImagenetMean.end()), device);
    std_ = Tensor::from_data({3}, std::vector<float>(data::kImagenetStd.begin(), data::kImagenetStd.end()), device);
  }
}

int64_t InputPipeline::output_side(int64_t raw_side) const {
  return options_.image_size > 0 ? options_.image_size : raw_side;
}

int64_t InputPipeline::output_channels(int64_t raw_channels) const {
  return options_.imagenet_normalize ? 3 : raw_channels;
}

const Tensor& InputPipeline::resize_and_normalize(const Tensor& raw) {
  const Tensor* x = &raw;
  if (options_.image_size > 0 && options_.image_size != raw.dim(2)) {
    resize_bilinear_forward(raw, resized_, options_.image_size, options_.image_size);
    x = &resized_;
  }
  if (!options_.imagenet_normalize) return *x;
  if (x->dim(1) == 1) {
    // The demo's PNGs were RGB: a single-channel image is the same value in all three channels.
    return keep(data::normalize_imagenet(x->to(Device::cpu)), normalized_);
  }
  normalize_channels(*x, mean_, std_, normalized_);
  return normalized_;
}

const Tensor& InputPipeline::eval_input(const Tensor& raw) { return resize_and_normalize(raw); }

const Tensor& InputPipeline::train_input(const Tensor& raw, Generator& augment_gen) {
  if (!options_.augment) return resize_and_normalize(raw);
  data::TransformOptions options;
  options.size = output_side(raw.dim(2));
  options.normalize = options_.imagenet_normalize;
  return keep(data::train_transform(raw.to(Device::cpu), options, augment_gen), augmented_);
}

void InputPipeline::skip_train_draws(int64_t rows, Generator& augment_gen) const {
  if (!options_.augment) return;
  const data::AugmentOptions options = data::TransformOptions{}.augment;
  for (int64_t i = 0; i < rows; ++i) (void)data::draw_augment(options, augment_gen);
}

const Tensor& InputPipeline::keep(Tensor host, Tensor& buffer) {
  if (device_ == Device::cpu) {
    buffer = std::move(host);
    return buffer;
  }
  // Into the same device buffer every step: a captured CUDA graph reads its input from there.
  buffer.ensure(host.shape(), device_);
  buffer.copy_from(host);
  return buffer;
}

}  // namespace keel::train
