// Tests of the seed recipe's image transforms: resize against a float64 reference, the affine and
// warp grids on cases with known answers, padding modes, lighting, probabilities and seeding.
#include <gtest/gtest.h>

#include <cmath>

#include "keel/data/transforms.h"
#include "keel/error.h"
#include "keel/random.h"
#include "support/test_util.h"

namespace keel::data {
namespace {

// Plain float64 aligned-corner bilinear resize, the oracle for resize_images.
std::vector<double> reference_resize(const Tensor& x, int64_t oh, int64_t ow) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  std::vector<float> in = x.to_vector();
  std::vector<double> out;
  for (int64_t p = 0; p < n * c; ++p) {
    for (int64_t i = 0; i < oh; ++i) {
      const double sy = oh > 1 ? static_cast<double>(i) * static_cast<double>(h - 1) / static_cast<double>(oh - 1) : 0.0;
      const auto y0 = std::min<int64_t>(static_cast<int64_t>(std::floor(sy)), h - 1);
      const int64_t y1 = std::min<int64_t>(y0 + 1, h - 1);
      for (int64_t j = 0; j < ow; ++j) {
        const double sx = ow > 1 ? static_cast<double>(j) * static_cast<double>(w - 1) / static_cast<double>(ow - 1) : 0.0;
        const auto x0 = std::min<int64_t>(static_cast<int64_t>(std::floor(sx)), w - 1);
        const int64_t x1 = std::min<int64_t>(x0 + 1, w - 1);
        const double ay = sy - static_cast<double>(y0), ax = sx - static_cast<double>(x0);
        auto at = [&](int64_t yy, int64_t xx) { return static_cast<double>(in[static_cast<size_t>((p * h + yy) * w + xx)]); };
        out.push_back((1 - ay) * ((1 - ax) * at(y0, x0) + ax * at(y0, x1)) +
                      ay * ((1 - ax) * at(y1, x0) + ax * at(y1, x1)));
      }
    }
  }
  return out;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<float> u = a.to_vector(), v = b.to_vector();
  EXPECT_EQ(u.size(), v.size());
  float m = 0;
  for (size_t i = 0; i < u.size() && i < v.size(); ++i) m = std::max(m, std::abs(u[i] - v[i]));
  return m;
}

float at(const Tensor& t, int64_t n, int64_t c, int64_t y, int64_t x) {
  return t.data()[((n * t.dim(1) + c) * t.dim(2) + y) * t.dim(3) + x];
}

TEST(Transforms, FlipTwiceIsTheIdentity) {
  Tensor x = testing::random_tensor(Shape{2, 3, 5, 7}, 11, 0.0f, 1.0f);
  Tensor once = flip_horizontal(x);
  EXPECT_EQ(at(once, 1, 2, 3, 0), at(x, 1, 2, 3, 6));
  EXPECT_NE(once.to_vector(), x.to_vector());
  EXPECT_EQ(flip_horizontal(once).to_vector(), x.to_vector());
}

TEST(Transforms, ResizeMatchesTheFloat64Reference) {
  Tensor x = testing::random_tensor(Shape{2, 3, 6, 6}, 3, 0.0f, 1.0f);
  Tensor y = resize_images(x, 224, 224);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 224, 224}));
  EXPECT_LT(testing::relative_error(y.to_vector(), reference_resize(x, 224, 224)), 1e-6);
  // Aligned corners: the four corner pixels are the source's corners exactly.
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t c = 0; c < 3; ++c) {
      EXPECT_EQ(at(y, n, c, 0, 0), at(x, n, c, 0, 0));
      EXPECT_EQ(at(y, n, c, 0, 223), at(x, n, c, 0, 5));
      EXPECT_EQ(at(y, n, c, 223, 0), at(x, n, c, 5, 0));
      EXPECT_EQ(at(y, n, c, 223, 223), at(x, n, c, 5, 5));
    }
  }
}

TEST(Transforms, ConstantImageStaysConstant) {
  Tensor x = Tensor::full(Shape{1, 3, 6, 6}, 0.37f);
  for (Tensor y : {resize_images(x, 224, 224), resize_images(x, 17, 9)}) {
    for (float v : y.to_vector()) ASSERT_NEAR(v, 0.37f, 1e-6f);
  }
  // The geometric path keeps a constant too, with border or reflection padding.
  AugmentDraw d;
  d.rotate = true;
  d.degrees = 8.0f;
  d.zoom = true;
  d.zoom_scale = 1.07f;
  d.zoom_row = 0.2f;
  d.warp = true;
  d.warp_magnitude = {0.15f, -0.2f, 0.05f, 0.1f};
  for (Padding p : {Padding::border, Padding::reflection}) {
    Tensor y = apply_augment(x, 32, 32, {d}, p);
    for (float v : y.to_vector()) ASSERT_NEAR(v, 0.37f, 1e-6f);
  }
}

TEST(Transforms, IdentityDrawsOnTheSamplingPathEqualTheResize) {
  // A rotation by 0 degrees and a zero-magnitude warp go through the grid sampler; they must agree
  // with the resize op, which checks the sampler's aligned-corner convention.
  Tensor x = testing::random_tensor(Shape{1, 3, 6, 6}, 5, 0.0f, 1.0f);
  AugmentDraw d;
  d.rotate = true;
  d.degrees = 0.0f;
  d.warp = true;
  d.warp_magnitude = {0, 0, 0, 0};
  Tensor y = apply_augment(x, 40, 40, {d}, Padding::zeros);
  EXPECT_LT(max_abs_diff(y, resize_images(x, 40, 40)), 1e-5f);
}

TEST(Transforms, RotationByNinetyDegreesMovesPixelsExactly) {
  // fastai's matrix maps output (x, y) to source (-y, x) at 90 degrees: out[i][j] = in[j][n-1-i].
  Tensor x = testing::random_tensor(Shape{1, 1, 5, 5}, 9, 0.0f, 1.0f);
  AugmentDraw d;
  d.rotate = true;
  d.degrees = 90.0f;
  Tensor y = apply_augment(x, 5, 5, {d}, Padding::zeros);
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 5; ++j) EXPECT_NEAR(at(y, 0, 0, i, j), at(x, 0, 0, j, 4 - i), 1e-5f) << i << "," << j;
  }
}

TEST(Transforms, ZoomSamplesTheCentre) {
  // Scale 2 about the centre: output columns 0, 2, 4 read source columns 1, 2, 3.
  Tensor x = testing::random_tensor(Shape{1, 1, 5, 5}, 13, 0.0f, 1.0f);
  AugmentDraw d;
  d.zoom = true;
  d.zoom_scale = 2.0f;
  d.zoom_row = d.zoom_col = 0.5f;
  Tensor y = apply_augment(x, 5, 5, {d}, Padding::zeros);
  for (int i : {0, 2, 4}) {
    for (int j : {0, 2, 4}) EXPECT_NEAR(at(y, 0, 0, i, j), at(x, 0, 0, 1 + i / 2, 1 + j / 2), 1e-5f);
  }
}

TEST(Transforms, PaddingModesOutsideTheImage) {
  // Zooming out by 2 makes output pixel 0 read source pixel -2 and output pixel 4 read pixel 6:
  // reflection mirrors both to 2, border clamps them to 0 and 4, zeros reads black.
  Tensor x = testing::random_tensor(Shape{1, 1, 5, 5}, 17, 0.1f, 1.0f);
  AugmentDraw d;
  d.zoom = true;
  d.zoom_scale = 0.5f;
  Tensor r = apply_augment(x, 5, 5, {d}, Padding::reflection);
  Tensor b = apply_augment(x, 5, 5, {d}, Padding::border);
  Tensor z = apply_augment(x, 5, 5, {d}, Padding::zeros);
  EXPECT_NEAR(at(r, 0, 0, 2, 0), at(x, 0, 0, 2, 2), 1e-5f);
  EXPECT_NEAR(at(r, 0, 0, 2, 4), at(x, 0, 0, 2, 2), 1e-5f);
  EXPECT_NEAR(at(r, 0, 0, 0, 0), at(x, 0, 0, 2, 2), 1e-5f);
  EXPECT_NEAR(at(b, 0, 0, 2, 0), at(x, 0, 0, 2, 0), 1e-5f);
  EXPECT_NEAR(at(b, 0, 0, 2, 4), at(x, 0, 0, 2, 4), 1e-5f);
  EXPECT_NEAR(at(b, 0, 0, 4, 4), at(x, 0, 0, 4, 4), 1e-5f);
  EXPECT_EQ(at(z, 0, 0, 2, 0), 0.0f);
  EXPECT_EQ(at(z, 0, 0, 4, 4), 0.0f);
  // Output pixel 1 reads source pixel 0 (inside): every mode agrees there, and at the centre.
  for (const Tensor* t : {&r, &b, &z}) {
    EXPECT_NEAR(at(*t, 0, 0, 1, 1), at(x, 0, 0, 0, 0), 1e-5f);
    EXPECT_NEAR(at(*t, 0, 0, 2, 2), at(x, 0, 0, 2, 2), 1e-5f);
  }
}

TEST(Transforms, LightingInLogitSpace) {
  // Values 0.5 and sigmoid(1) under brightness b and contrast c.
  const float s1 = static_cast<float>(1.0 / (1.0 + std::exp(-1.0)));
  Tensor x = Tensor::from_data(Shape{1, 1, 1, 2}, std::vector<float>{0.5f, s1});
  AugmentDraw d;
  d.brightness = true;
  d.brightness_change = 0.6f;
  Tensor y = apply_augment(x, 1, 2, {d}, Padding::reflection);
  EXPECT_NEAR(at(y, 0, 0, 0, 0), 0.6f, 1e-6f);  // logit(0.5) = 0, so x' = b
  const double l6 = std::log(0.6 / 0.4);
  EXPECT_NEAR(at(y, 0, 0, 0, 1), 1.0 / (1.0 + std::exp(-(1.0 + l6))), 1e-6);
  d = AugmentDraw{};
  d.contrast = true;
  d.contrast_scale = 1.25f;
  y = apply_augment(x, 1, 2, {d}, Padding::reflection);
  EXPECT_NEAR(at(y, 0, 0, 0, 0), 0.5f, 1e-6f);
  EXPECT_NEAR(at(y, 0, 0, 0, 1), 1.0 / (1.0 + std::exp(-1.25)), 1e-6);
  // Black and white pixels stay near black and white (fastai clamps to 1e-7 before the logit).
  Tensor bw = Tensor::from_data(Shape{1, 1, 1, 2}, std::vector<float>{0.0f, 1.0f});
  d.brightness = true;
  d.brightness_change = 0.4f;
  y = apply_augment(bw, 1, 2, {d}, Padding::reflection);
  EXPECT_LT(at(y, 0, 0, 0, 0), 1e-6f);
  EXPECT_GT(at(y, 0, 0, 0, 1), 1.0f - 1e-6f);
}

TEST(Transforms, ProbabilityZeroChangesNothing) {
  Tensor x = testing::random_tensor(Shape{4, 3, 6, 6}, 21, 0.0f, 1.0f);
  Generator gen(123);
  Tensor y = augment_images(x, 64, 64, AugmentOptions::none(), gen);
  EXPECT_EQ(y.to_vector(), resize_images(x, 64, 64).to_vector());  // bit for bit
  AugmentDraw d = draw_augment(AugmentOptions::none(), gen);
  EXPECT_FALSE(d.flip || d.warp || d.rotate || d.zoom || d.brightness || d.contrast);
}

TEST(Transforms, SeedingIsReproducible) {
  Tensor x = testing::random_tensor(Shape{3, 3, 6, 6}, 8, 0.0f, 1.0f);
  AugmentOptions o;
  Generator a(42), b(42), c(43);
  Tensor ya = augment_images(x, 32, 32, o, a);
  Tensor yb = augment_images(x, 32, 32, o, b);
  Tensor yc = augment_images(x, 32, 32, o, c);
  EXPECT_EQ(ya.to_vector(), yb.to_vector());
  EXPECT_NE(ya.to_vector(), yc.to_vector());
  EXPECT_EQ(a.offset(), b.offset());  // the same number of draws whatever ran
}

TEST(Transforms, DrawsFollowTheRecipe) {
  AugmentOptions o;
  Generator gen(2024);
  const int n = 4000;
  int flips = 0, rotates = 0, zooms = 0, warps = 0, bright = 0, contrast = 0;
  for (int i = 0; i < n; ++i) {
    AugmentDraw d = draw_augment(o, gen);
    flips += d.flip;
    rotates += d.rotate;
    zooms += d.zoom;
    warps += d.warp;
    bright += d.brightness;
    contrast += d.contrast;
    ASSERT_LE(std::abs(d.degrees), 10.0f);
    ASSERT_GE(d.zoom_scale, 1.0f);
    ASSERT_LE(d.zoom_scale, 1.1f);
    for (float m : d.warp_magnitude) ASSERT_LE(std::abs(m), 0.2f);
    ASSERT_GE(d.brightness_change, 0.4f);
    ASSERT_LE(d.brightness_change, 0.6f);
    ASSERT_GE(d.contrast_scale, 0.8f - 1e-6f);
    ASSERT_LE(d.contrast_scale, 1.25f + 1e-6f);
  }
  // Binomial standard deviations are 0.008 (p = 0.5) and 0.007 (p = 0.75) for 4000 draws; allow
  // four of them.
  EXPECT_NEAR(flips / double(n), 0.5, 0.032);
  for (int k : {rotates, zooms, warps, bright, contrast}) EXPECT_NEAR(k / double(n), 0.75, 0.028);
}

TEST(Transforms, NormalisationAndScaling) {
  Tensor bytes = Tensor::full(Shape{2, 1, 3, 3}, 255.0f);
  Tensor unit = scale_to_unit(bytes);
  for (float v : unit.to_vector()) EXPECT_FLOAT_EQ(v, 1.0f);
  Tensor n = normalize_imagenet(unit);  // 1 channel repeated to RGB
  ASSERT_EQ(n.shape(), (Shape{2, 3, 3, 3}));
  for (int c = 0; c < 3; ++c) {
    const float want = (1.0f - kImagenetMean[static_cast<size_t>(c)]) / kImagenetStd[static_cast<size_t>(c)];
    EXPECT_NEAR(at(n, 1, c, 2, 1), want, 1e-5f);
  }
  EXPECT_THROW(normalize_imagenet(Tensor::zeros(Shape{1, 2, 3, 3})), Error);
}

TEST(Transforms, TrainAndValidationPipelines) {
  Tensor x = testing::random_tensor(Shape{2, 3, 6, 6}, 31, 0.0f, 1.0f);
  TransformOptions o;
  Tensor v = valid_transform(x, o);
  ASSERT_EQ(v.shape(), (Shape{2, 3, 224, 224}));
  EXPECT_LT(max_abs_diff(v, normalize_imagenet(resize_images(x, 224, 224))), 1e-6f);
  Generator gen(5);
  Tensor t = train_transform(x, o, gen);
  ASSERT_EQ(t.shape(), (Shape{2, 3, 224, 224}));
  o.normalize = false;
  o.augment = AugmentOptions::none();
  Generator gen2(5);
  EXPECT_EQ(train_transform(x, o, gen2).to_vector(), resize_images(x, 224, 224).to_vector());
}

}  // namespace
}  // namespace keel::data
