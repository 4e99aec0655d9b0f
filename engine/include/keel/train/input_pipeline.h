// InputPipeline: turns a batch of raw square images into the model's input: as they are for the
// small CNN; resized, augmented (training only) and ImageNet-normalised for the seed recipe.
#pragma once

#include "keel/random.h"
#include "keel/tensor.h"
#include "keel/train/trainer_options.h"

namespace keel::train {

class InputPipeline {
 public:
  InputPipeline(const InputOptions& options, Device device);

  // raw: (B, C, S, S) on the device -> (B, C', H, W) on the device; valid until the next call.
  const Tensor& train_input(const Tensor& raw, Generator& augment_gen);
  const Tensor& eval_input(const Tensor& raw);
  // Data-parallel training: moves `augment_gen` past the draws of `rows` images (the global
  // batch's rows before this process's share), so each image gets the single-process run's draw.
  void skip_train_draws(int64_t rows, Generator& augment_gen) const;
  // Side and channels of the model input for raw images of side S with C channels.
  int64_t output_side(int64_t raw_side) const;
  int64_t output_channels(int64_t raw_channels) const;

 private:
  const Tensor& resize_and_normalize(const Tensor& raw);
  // A batch made on the host, as `buffer` on the training device: moved there on the CPU, copied
  // into buffer's own storage (the same every step) on a GPU.
  const Tensor& keep(Tensor host, Tensor& buffer);

  InputOptions options_;
  Device device_;
  Tensor mean_, std_, resized_, normalized_, augmented_;
};

}  // namespace keel::train
