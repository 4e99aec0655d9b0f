// The seed recipe's image transforms, following fastai v1's Image pipeline: coordinate transforms
// (warp) and affine matrices (rotate, zoom) are composed into one sampling grid and applied in a
// single bilinear pass together with the resize, then lighting in logit space, then the flip.
#include "keel/data/transforms.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/ops.h"

namespace keel::data {

namespace {

void expect_images(const Tensor& x, const char* what) {
  if (!x.defined() || x.ndim() != 4 || x.device() != Device::cpu) {
    throw Error(ErrorKind::runtime,
                fmt::format("{}: expects a (N, C, H, W) CPU tensor, got {}", what,
                            x.defined() ? x.shape().str() + " on " + device_name(x.device())
                                        : std::string("an undefined tensor")));
  }
}

// 3x3 homography from fastai's _find_coeffs(orig, targ): the map that sends the warped corners
// `targ` back to the image corners, applied to output coordinates.
Eigen::Matrix3d warp_homography(const std::array<float, 4>& m) {
  const double targ[4][2] = {{-1 - m[3], -1 - m[1]},
                             {-1 - m[2], 1 + m[1]},
                             {1 + m[3], -1 - m[0]},
                             {1 + m[2], 1 + m[0]}};
  const double orig[4][2] = {{-1, -1}, {-1, 1}, {1, -1}, {1, 1}};
  Eigen::Matrix<double, 8, 8> a;
  Eigen::Matrix<double, 8, 1> b;
  for (int k = 0; k < 4; ++k) {
    const double x = targ[k][0], y = targ[k][1], u = orig[k][0], v = orig[k][1];
    a.row(2 * k) << x, y, 1, 0, 0, 0, -u * x, -u * y;
    a.row(2 * k + 1) << 0, 0, 0, x, y, 1, -v * x, -v * y;
    b(2 * k) = u;
    b(2 * k + 1) = v;
  }
  Eigen::Matrix<double, 8, 1> c = a.fullPivLu().solve(b);
  Eigen::Matrix3d h;
  h << c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7), 1.0;
  return h;
}

// fastai's affine matrix for the image: rotation, then zoom multiplied on the right.
Eigen::Matrix3d affine_matrix(const AugmentDraw& d) {
  Eigen::Matrix3d m = Eigen::Matrix3d::Identity();
  if (d.rotate) {
    const double angle = d.degrees * std::numbers::pi / 180.0;
    Eigen::Matrix3d r;
    r << std::cos(angle), -std::sin(angle), 0, std::sin(angle), std::cos(angle), 0, 0, 0, 1;
    m = m * r;
  }
  if (d.zoom) {
    const double s = 1.0 - 1.0 / d.zoom_scale;
    const double col_c = s * (2.0 * d.zoom_col - 1.0);
    const double row_c = s * (2.0 * d.zoom_row - 1.0);
    Eigen::Matrix3d z;
    z << 1.0 / d.zoom_scale, 0, col_c, 0, 1.0 / d.zoom_scale, row_c, 0, 0, 1;
    m = m * z;
  }
  return m;
}

// torch grid_sample's reflection for align_corners=True: mirror about the centres of the first and
// last pixel, then clip.
double reflect(double v, int64_t size) {
  if (size <= 1) return 0.0;
  const double span = static_cast<double>(size - 1);
  v = std::abs(v);
  const double extra = std::fmod(v, span);
  const auto flips = static_cast<int64_t>(std::floor(v / span));
  v = flips % 2 == 0 ? extra : span - extra;
  return std::clamp(v, 0.0, span);
}

// Bilinear sample of one (H, W) plane at pixel coordinates (sx, sy).
float sample(const float* plane, int64_t h, int64_t w, double sx, double sy, Padding padding) {
  if (padding == Padding::reflection) {
    sx = reflect(sx, w);
    sy = reflect(sy, h);
  } else if (padding == Padding::border) {
    sx = std::clamp(sx, 0.0, static_cast<double>(w - 1));
    sy = std::clamp(sy, 0.0, static_cast<double>(h - 1));
  }
  const double fx = std::floor(sx), fy = std::floor(sy);
  const auto x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
  const double ax = sx - fx, ay = sy - fy;
  auto at = [&](int64_t y, int64_t x) -> double {
    if (x < 0 || x >= w || y < 0 || y >= h) return 0.0;  // zeros padding (others are inside)
    return plane[y * w + x];
  };
  const double v = (1 - ay) * ((1 - ax) * at(y0, x0) + ax * at(y0, x0 + 1)) +
                   ay * ((1 - ax) * at(y0 + 1, x0) + ax * at(y0 + 1, x0 + 1));
  return static_cast<float>(v);
}

// One image (C, H, W) -> (C, out_h, out_w) through the warp and affine maps of `d`.
void sample_geometric(const float* src, int64_t c, int64_t h, int64_t w, float* dst, int64_t out_h,
                      int64_t out_w, const AugmentDraw& d, Padding padding) {
  Eigen::Matrix3d m = affine_matrix(d);
  // fastai's _affine_mult: correct the shear terms for a non-square output grid.
  m(0, 1) *= static_cast<double>(out_h) / static_cast<double>(out_w);
  m(1, 0) *= static_cast<double>(out_w) / static_cast<double>(out_h);
  const Eigen::Matrix3d hw = d.warp ? warp_homography(d.warp_magnitude) : Eigen::Matrix3d::Identity();
  for (int64_t i = 0; i < out_h; ++i) {
    const double gy = out_h > 1 ? -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(out_h - 1) : -1.0;
    for (int64_t j = 0; j < out_w; ++j) {
      const double gx = out_w > 1 ? -1.0 + 2.0 * static_cast<double>(j) / static_cast<double>(out_w - 1) : -1.0;
      double qx = gx, qy = gy;
      if (d.warp) {
        const double den = hw(2, 0) * gx + hw(2, 1) * gy + hw(2, 2);
        qx = (hw(0, 0) * gx + hw(0, 1) * gy + hw(0, 2)) / den;
        qy = (hw(1, 0) * gx + hw(1, 1) * gy + hw(1, 2)) / den;
      }
      const double rx = m(0, 0) * qx + m(0, 1) * qy + m(0, 2);
      const double ry = m(1, 0) * qx + m(1, 1) * qy + m(1, 2);
      // Aligned corners: -1 is the first pixel's centre, +1 the last one's.
      const double sx = (rx + 1.0) * 0.5 * static_cast<double>(w - 1);
      const double sy = (ry + 1.0) * 0.5 * static_cast<double>(h - 1);
      for (int64_t k = 0; k < c; ++k) {
        dst[(k * out_h + i) * out_w + j] = sample(src + k * h * w, h, w, sx, sy, padding);
      }
    }
  }
}

double logit(double p) { return std::log(p / (1.0 - p)); }

void apply_lighting(float* x, int64_t count, const AugmentDraw& d) {
  const double shift = d.brightness ? logit(d.brightness_change) : 0.0;
  const double scale = d.contrast ? d.contrast_scale : 1.0;
  for (int64_t i = 0; i < count; ++i) {
    const double p = std::clamp(static_cast<double>(x[i]), 1e-7, 1.0 - 1e-7);
    double l = logit(p);
    if (d.brightness) l += shift;
    if (d.contrast) l *= scale;
    x[i] = static_cast<float>(1.0 / (1.0 + std::exp(-l)));
  }
}

void flip_rows(float* x, int64_t rows, int64_t w) {
  for (int64_t r = 0; r < rows; ++r) std::reverse(x + r * w, x + (r + 1) * w);
}

}  // namespace

AugmentOptions AugmentOptions::none() {
  AugmentOptions o;
  o.flip_p = o.rotate_p = o.zoom_p = o.warp_p = o.brightness_p = o.contrast_p = 0.0f;
  return o;
}

AugmentDraw draw_augment(const AugmentOptions& o, Generator& gen) {
  // A transform with p = 0 never runs, even for a uniform draw of exactly 0.
  auto happens = [&](float p) { return gen.next_uniform() < p; };
  AugmentDraw d;
  d.flip = happens(o.flip_p);
  for (float& m : d.warp_magnitude) m = gen.next_uniform(-o.max_warp, o.max_warp);
  d.warp = happens(o.warp_p);
  d.degrees = gen.next_uniform(-o.max_rotate_degrees, o.max_rotate_degrees);
  d.rotate = happens(o.rotate_p);
  d.zoom_scale = gen.next_uniform(o.min_zoom, o.max_zoom);
  d.zoom_row = gen.next_uniform();
  d.zoom_col = gen.next_uniform();
  d.zoom = happens(o.zoom_p);
  d.brightness_change = gen.next_uniform(o.min_brightness, o.max_brightness);
  d.brightness = happens(o.brightness_p);
  d.contrast_scale = std::exp(gen.next_uniform(std::log(o.min_contrast), std::log(o.max_contrast)));
  d.contrast = happens(o.contrast_p);
  return d;
}

Tensor resize_images(const Tensor& x, int64_t out_h, int64_t out_w) {
  expect_images(x, "resize_images");
  if (out_h < 1 || out_w < 1) {
    throw Error(ErrorKind::config, fmt::format("resize to {}x{}: sizes must be positive", out_h, out_w));
  }
  Tensor y;
  resize_bilinear_forward(x, y, out_h, out_w);
  return y;
}

Tensor apply_augment(const Tensor& x, int64_t out_h, int64_t out_w,
                     const std::vector<AugmentDraw>& draws, Padding padding) {
  expect_images(x, "apply_augment");
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (static_cast<int64_t>(draws.size()) != n) {
    throw Error(ErrorKind::runtime, fmt::format("apply_augment: {} draws for {} images", draws.size(), n));
  }
  Tensor y(Shape{n, c, out_h, out_w});
  const int64_t out_image = c * out_h * out_w;
  for (int64_t i = 0; i < n; ++i) {
    const AugmentDraw& d = draws[static_cast<size_t>(i)];
    float* dst = y.data() + i * out_image;
    if (d.geometric()) {
      sample_geometric(x.data() + i * c * h * w, c, h, w, dst, out_h, out_w, d, padding);
    } else {
      // The identity grid is exactly the aligned-corner resize: use the op, so an image that draws
      // nothing matches validation bit for bit.
      y.rows(i, i + 1).copy_from(resize_images(x.rows(i, i + 1), out_h, out_w));
    }
    if (d.brightness || d.contrast) apply_lighting(dst, out_image, d);
    if (d.flip) flip_rows(dst, c * out_h, out_w);
  }
  return y;
}

Tensor augment_images(const Tensor& x, int64_t out_h, int64_t out_w, const AugmentOptions& options,
                      Generator& gen) {
  expect_images(x, "augment_images");
  std::vector<AugmentDraw> draws;
  for (int64_t i = 0; i < x.dim(0); ++i) draws.push_back(draw_augment(options, gen));
  return apply_augment(x, out_h, out_w, draws, options.padding);
}

Tensor flip_horizontal(const Tensor& x) {
  expect_images(x, "flip_horizontal");
  Tensor y = x.clone();
  flip_rows(y.data(), x.dim(0) * x.dim(1) * x.dim(2), x.dim(3));
  return y;
}

Tensor scale_to_unit(const Tensor& x, float max_value) {
  if (!(max_value > 0)) throw Error(ErrorKind::config, "scale_to_unit: max_value must be > 0");
  Tensor y;
  scale(x, 1.0f / max_value, y);
  return y;
}

Tensor normalize_imagenet(const Tensor& x) {
  expect_images(x, "normalize_imagenet");
  Tensor rgb = x;
  if (x.dim(1) == 1) {
    const int64_t plane = x.dim(2) * x.dim(3);
    rgb = Tensor(Shape{x.dim(0), 3, x.dim(2), x.dim(3)});
    for (int64_t i = 0; i < x.dim(0); ++i) {
      for (int c = 0; c < 3; ++c) {
        std::copy(x.data() + i * plane, x.data() + (i + 1) * plane, rgb.data() + (i * 3 + c) * plane);
      }
    }
  } else if (x.dim(1) != 3) {
    throw Error(ErrorKind::config, fmt::format("ImageNet normalisation needs 1 or 3 channels, got "
                                               "{}",
                                               x.dim(1)));
  }
  const Tensor mean = Tensor::from_data(Shape{3}, kImagenetMean);
  const Tensor std = Tensor::from_data(Shape{3}, kImagenetStd);
  Tensor y;
  normalize_channels(rgb, mean, std, y);
  return y;
}

Tensor train_transform(const Tensor& x, const TransformOptions& options, Generator& gen) {
  Tensor y = augment_images(x, options.size, options.size, options.augment, gen);
  return options.normalize ? normalize_imagenet(y) : y;
}

Tensor valid_transform(const Tensor& x, const TransformOptions& options) {
  Tensor y = resize_images(x, options.size, options.size);
  return options.normalize ? normalize_imagenet(y) : y;
}

}  // namespace keel::data
