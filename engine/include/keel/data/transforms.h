// Image transforms of the seed recipe (PIPELINE.md §4) on (N, C, H, W) CPU tensors: aligned-corner
// bilinear resize, [0,1] scaling, ImageNet normalisation and fastai v1's training augmentations.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "keel/random.h"
#include "keel/tensor.h"

namespace keel::data {

// What an affine or warp transform samples where its source coordinate leaves the image. fastai v1
// defaults to reflection (mirror about the edge pixel centres, as torch grid_sample with
// align_corners=True); border repeats the edge pixel; zeros reads black.
enum class Padding { zeros, border, reflection };

// fastai v1 get_transforms() defaults (do_flip, max_rotate 10, max_zoom 1.1, max_lighting 0.2,
// max_warp 0.2, p_affine 0.75, p_lighting 0.75).
struct AugmentOptions {
  float flip_p = 0.5f;
  float max_rotate_degrees = 10.0f;  // angle ~ U(-max, max)
  float rotate_p = 0.75f;
  float min_zoom = 1.0f, max_zoom = 1.1f;  // scale ~ U(min, max), centre ~ U(0, 1) per axis
  float zoom_p = 0.75f;
  float max_warp = 0.2f;  // four corner magnitudes ~ U(-max, max)
  float warp_p = 0.75f;
  float min_brightness = 0.4f, max_brightness = 0.6f;  // b ~ U(min, max)
  float brightness_p = 0.75f;
  float min_contrast = 0.8f, max_contrast = 1.25f;  // c ~ log-uniform(min, max)
  float contrast_p = 0.75f;
  Padding padding = Padding::reflection;

  // Every probability 0: augment_images then equals resize_images.
  static AugmentOptions none();
};

// The random choices for one image. Every parameter is drawn whether or not its transform runs, so
// each image consumes the same number of draws and a seed fixes the whole batch.
struct AugmentDraw {
  bool flip = false;
  bool warp = false;
  std::array<float, 4> warp_magnitude{};  // fastai's m[0..3]
  bool rotate = false;
  float degrees = 0.0f;
  bool zoom = false;
  float zoom_scale = 1.0f, zoom_row = 0.5f, zoom_col = 0.5f;
  bool brightness = false;
  float brightness_change = 0.5f;
  bool contrast = false;
  float contrast_scale = 1.0f;

  bool geometric() const { return warp || rotate || zoom; }
};
AugmentDraw draw_augment(const AugmentOptions& options, Generator& gen);

// x: (N, C, H, W) -> (N, C, out_h, out_w) by bilinear interpolation with aligned corners
// (source = dst * (in - 1) / (out - 1)), through keel::resize_bilinear_forward.
Tensor resize_images(const Tensor& x, int64_t out_h, int64_t out_w);

// x: (N, C, H, W) -> (N, C, out_h, out_w), fastai v1's order: one bilinear sample of the source
// through symmetric warp (perspective), then rotation and zoom (affine) of the output grid, with
// aligned corners and `padding`; then brightness x' = sigmoid(logit(x) + logit(b)) and contrast
// x' = sigmoid(logit(x) * c) (x clamped to [1e-7, 1 - 1e-7] first, as fastai); then the horizontal
// flip. draws: one per image. An image with no geometric draw is resized exactly as resize_images.
Tensor apply_augment(const Tensor& x, int64_t out_h, int64_t out_w,
                     const std::vector<AugmentDraw>& draws, Padding padding);
// Draws one AugmentDraw per image from `gen` (in image order) and applies them.
Tensor augment_images(const Tensor& x, int64_t out_h, int64_t out_w, const AugmentOptions& options,
                      Generator& gen);

// x: (N, C, H, W) -> the same with every row reversed (x -> W - 1 - x).
Tensor flip_horizontal(const Tensor& x);

// bytes (0..255) -> [0, 1]: y = x / max_value.
Tensor scale_to_unit(const Tensor& x, float max_value = 255.0f);

inline constexpr std::array<float, 3> kImagenetMean = {0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImagenetStd = {0.229f, 0.224f, 0.225f};
// y = (x - mean[c]) / std[c] over 3-channel (N, 3, H, W) images (a 1-channel batch is repeated
// to 3 channels first, as the demo's PNGs were RGB), through keel::normalize_channels.
Tensor normalize_imagenet(const Tensor& x);

// The whole per-batch pipeline of the seed recipe. Training: augment to size x size, normalise;
// validation: resize to size x size, normalise.
struct TransformOptions {
  int64_t size = 224;
  AugmentOptions augment;
  bool normalize = true;  // ImageNet mean/std
};
Tensor train_transform(const Tensor& x, const TransformOptions& options, Generator& gen);
Tensor valid_transform(const Tensor& x, const TransformOptions& options);

}  // namespace keel::data
