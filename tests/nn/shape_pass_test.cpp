// Tests of the model builder's shape pass: layer lists that PyTorch would refuse for the image size
// are refused before training with the config line, layer index, type and shapes; valid ones build.
#include <gtest/gtest.h>

#include <string>

#include "keel/error.h"
#include "keel/random.h"
#include "titanic/config.h"
#include "titanic/model_builder.h"

namespace keel::train {
namespace {

// A layer-list config whose model.layers are `layers` (YAML list items, one per line).
Config layers_config(const std::string& layers) {
  return parse_config("model:\n  arch: layers\n  layers:\n" + layers, "shapes.yaml");
}

// The message of the config error that check_model_shapes throws for 1 x side x side images.
std::string shape_error(const std::string& layers, int64_t side) {
  const Config config = layers_config(layers);
  try {
    check_model_shapes(config, 1, side);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a config error for:\n" << layers;
  return "";
}

void expect_has(const std::string& msg, const std::string& phrase) {
  EXPECT_NE(msg.find(phrase), std::string::npos) << "missing `" << phrase << "` in: " << msg;
}

const char* kHead = "    - flatten\n    - linear: {out: 2}\n";

TEST(ShapePass, PoolKernelLargerThanTheImage) {
  const std::string msg = shape_error(
      "    - conv2d: {out: 16, kernel: 3, padding: 1}\n    - max_pool: {kernel: 9}\n" +
          std::string(kHead), 5);
  expect_has(msg, "shapes.yaml:5: model.layers[1] (max_pool)");
  expect_has(msg, "input 16x5x5 (channels x height x width)");
  expect_has(msg, "output would be 16x0x0, empty");
  expect_has(msg, "kernel 9 is larger than the padded input 5x5");
  expect_has(msg, "at most 5");
}

TEST(ShapePass, ConvKernelLargerThanThePaddedImage) {
  const std::string msg = shape_error("    - conv2d: {out: 8, kernel: 7, padding: 0}\n" + std::string(kHead), 5);
  expect_has(msg, "model.layers[0] (conv2d) with input 1x5x5");
  expect_has(msg, "output would be 8x0x0");
  // With padding the same kernel fits, as in PyTorch (5 + 2 = 7).
  check_model_shapes(layers_config("    - conv2d: {out: 8, kernel: 7, padding: 1}\n" + std::string(kHead)), 1, 5);
}

TEST(ShapePass, StrideLeavesTooLittleForTheNextLayer) {
  const std::string msg = shape_error(
      "    - conv2d: {out: 4, kernel: 3, stride: 8}\n    - relu\n    - conv2d: {out: 4, kernel: 2}\n" +
          std::string(kHead), 5);
  expect_has(msg, "model.layers[2] (conv2d) with input 4x1x1");
  expect_has(msg, "output would be 4x0x0");
}

TEST(ShapePass, PoolPaddingOverHalfTheKernel) {
  // The config reader refuses this in a file; a config changed in code meets the same rule here.
  Config config = layers_config("    - max_pool: {kernel: 2}\n" + std::string(kHead));
  config.model.layers[0].args["padding"] = 2;
  try {
    check_model_shapes(config, 1, 6);
    ADD_FAILURE() << "expected a config error";
  } catch (const Error& e) {
    expect_has(e.what(), "model.layers[0] (max_pool) with input 1x6x6");
    expect_has(e.what(), "padding 2 is more than half the kernel 2; use padding 1 at most");
  }
}

TEST(ShapePass, AdaptivePoolLargerThanItsInputIsAllowedAsInPyTorch) {
  const Config config = layers_config("    - max_pool: {kernel: 2}\n    - adaptive_avg_pool: {size: 4}\n" +
                                      std::string(kHead));
  check_model_shapes(config, 1, 5);  // 2x2 -> 4x4
  Generator gen(0);
  auto model = build_model(config, 1, 5, gen);
  EXPECT_EQ(model->size(), 4u);
}

TEST(ShapePass, ImageLayerAfterFlattenAndLinearBeforeIt) {
  expect_has(shape_error("    - flatten\n    - conv2d: {out: 4}\n    - linear: {out: 2}\n", 5),
             "model.layers[1] (conv2d) with input 25 features: `conv2d` needs an image input");
  expect_has(shape_error("    - linear: {out: 2}\n", 5),
             "model.layers[0] (linear) with input 1x5x5 (channels x height x width): `linear` needs a flat input");
}

TEST(ShapePass, TheFlagshipModelFitsAndBuildsWithTheInferredSizes) {
  const Config config = load_config(std::string(KEEL_TEST_SOURCE_DIR) + "/configs/cnn.yaml");
  check_model_shapes(config, 1, 5);
  Generator gen(0);
  auto model = build_model(config, 1, 5, gen);
  EXPECT_EQ(model->size(), config.model.layers.size());
  EXPECT_EQ(model->parameter_count(), 25666);  // the recipe's "25.7k parameters"
}

TEST(ShapePass, ResnetShorthandsFitTinyImages) {
  const Config config = parse_config("model:\n  arch: resnet18\n", "resnet.yaml");
  check_model_shapes(config, 1, 1);
}

}  // namespace
}  // namespace keel::train
