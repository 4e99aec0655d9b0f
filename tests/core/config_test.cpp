// Config parsing: defaults, a full file, every class of user error and its message, --set
// overrides, the to_yaml round trip, the resume hash, layer lists, and configs/README.md coverage.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "schema.h"
#include "titanic/config.h"

namespace keel {
namespace {

// The small CNN of issue 4, the shortest realistic valid config.
const char* kSmallCnn = R"(seed: 0
model:
  layers:
    - conv2d: {out: 32, kernel: 3, padding: 1}
    - batch_norm
    - relu
    - conv2d: {out: 64, kernel: 3, padding: 1}
    - batch_norm
    - relu
    - max_pool: {kernel: 2}
    - conv2d: {out: 128, kernel: 3, padding: 1}
    - batch_norm
    - relu
    - adaptive_avg_pool
    - flatten
    - dropout: {p: 0.25}
    - linear: {out: 64}
    - relu
    - dropout
    - linear: {out: 2}
)";

// Every section with non-default values, to check that each key lands in its field.
const char* kFull = R"(seed: 42
device: cpu
gpu_backend: cudnn
threads: 2
deterministic: true
cuda_graph: true
data:
  dir: /tmp/titanic
  features: [sex_female, pclass_1, title_mr]
  rank_top_k: 2
  channels: 3
  image_size: 32
  imagenet_normalize: yes
  augment: true
  write_images: true
model:
  arch: layers
  num_classes: 2
  head: fastai
  head_dropout1: 0.1
  head_dropout2: 0.2
  head_hidden: 256
  layers:
    - conv2d:
        out: 16
        bias: false
    - relu
    - flatten
    - linear: {out: 2}
optimizer:
  name: sgd
  lr: 0.00123456789
  body_lr: 1e-4
  beta1: 0.8
  beta2: 0.999
  eps: 1e-8
  weight_decay: 0.05
  momentum: 0.85
  nesterov: true
schedule:
  name: cosine
  style: pytorch
  pct_start: 0.25
  div: 10
  final_div: 100
  moms_max: 0.9
  moms_min: 0.8
  final_lr_fraction: 0.01
train:
  epochs: 12
  frozen_epochs: 0
  batch_size: 32
  drop_last: false
  val_fraction: 0.25
  folds: 5
  repeats: 3
  ensemble_seeds: [1, 2, 18446744073709551615]
  best_metric: val_accuracy
  patience: 4
  eval_batch_size: 128
  grad_clip: 2.5
  on_nonfinite: skip_step
  stop_after_epochs: 3
output:
  dir: results/run1
  report: false
  checkpoints: false
  probabilities: false
)";

// The message of the config error that parsing `text` raises; fails the test if none is raised.
std::string parse_error(const std::string& text, const std::string& source = "configs/x.yaml") {
  try {
    parse_config(text, source);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return "";
}

std::string override_error(Config config, const std::string& assignment) {
  try {
    apply_override(config, assignment);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error for --set " << assignment;
  return "";
}

// kSmallCnn with `extra` appended (top-level keys or whole sections).
std::string small_with(const std::string& extra) {
  return std::string(kSmallCnn) + extra;
}

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)
#define EXPECT_LACKS(haystack, needle) \
  EXPECT_EQ(std::string(haystack).find(needle), std::string::npos) << (haystack)

TEST(Config, DefaultsFillEveryKeyNotGiven) {
  const Config c = parse_config(kSmallCnn, "small.yaml");
  const Config d;
  EXPECT_EQ(c.source, "small.yaml");
  EXPECT_EQ(c.seed, 0u);
  EXPECT_EQ(c.device, "auto");
  EXPECT_EQ(c.gpu_backend, "keel");
  EXPECT_EQ(c.threads, 0);
  EXPECT_EQ(c.data.dir, d.data.dir);
  EXPECT_TRUE(c.data.features.empty());
  EXPECT_EQ(c.data.channels, 1);
  EXPECT_EQ(c.model.arch, "layers");
  EXPECT_EQ(c.model.num_classes, 2);
  EXPECT_EQ(c.optimizer.name, "adamw");
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 3e-3);
  EXPECT_DOUBLE_EQ(c.optimizer.beta2, 0.99);
  EXPECT_EQ(c.schedule.name, "one_cycle");
  EXPECT_DOUBLE_EQ(c.schedule.final_div, 1e4);
  EXPECT_EQ(c.train.epochs, 30);
  EXPECT_EQ(c.train.batch_size, 64);
  EXPECT_TRUE(c.train.drop_last);
  EXPECT_DOUBLE_EQ(c.train.val_fraction, 0.2);
  EXPECT_EQ(c.train.stop_after_epochs, 0);
  EXPECT_EQ(c.train.grad_clip, 0.0);
  EXPECT_EQ(c.train.on_nonfinite, "stop");
  EXPECT_EQ(c.output.dir, "out");
  EXPECT_TRUE(c.output.report);
  // The resolved config of the small CNN is the default config plus its layers.
  Config expected;
  expected.model.layers = c.model.layers;
  EXPECT_EQ(to_yaml(c), to_yaml(expected));
}

TEST(Config, FullConfigLandsInEveryField) {
  const Config c = parse_config(kFull, "full.yaml");
  EXPECT_EQ(c.seed, 42u);
  EXPECT_EQ(c.device, "cpu");
  EXPECT_EQ(c.gpu_backend, "cudnn");
  EXPECT_EQ(c.threads, 2);
  EXPECT_TRUE(c.deterministic);
  EXPECT_TRUE(c.cuda_graph);
  EXPECT_EQ(c.data.dir, "/tmp/titanic");
  EXPECT_EQ(c.data.features, (std::vector<std::string>{"sex_female", "pclass_1", "title_mr"}));
  EXPECT_EQ(c.data.rank_top_k, 2);
  EXPECT_EQ(c.data.channels, 3);
  EXPECT_EQ(c.data.image_size, 32);
  EXPECT_TRUE(c.data.imagenet_normalize);
  EXPECT_TRUE(c.data.augment);
  EXPECT_TRUE(c.data.write_images);
  EXPECT_DOUBLE_EQ(c.model.head_dropout1, 0.1);
  EXPECT_DOUBLE_EQ(c.model.head_dropout2, 0.2);
  EXPECT_EQ(c.model.head_hidden, 256);
  ASSERT_EQ(c.model.layers.size(), 4u);
  EXPECT_EQ(c.model.layers[0].args.at("bias"), 0.0);
  EXPECT_EQ(c.optimizer.name, "sgd");
  EXPECT_EQ(c.optimizer.lr, 0.00123456789);
  EXPECT_DOUBLE_EQ(c.optimizer.body_lr, 1e-4);
  EXPECT_DOUBLE_EQ(c.optimizer.beta1, 0.8);
  EXPECT_DOUBLE_EQ(c.optimizer.beta2, 0.999);
  EXPECT_DOUBLE_EQ(c.optimizer.eps, 1e-8);
  EXPECT_DOUBLE_EQ(c.optimizer.weight_decay, 0.05);
  EXPECT_DOUBLE_EQ(c.optimizer.momentum, 0.85);
  EXPECT_TRUE(c.optimizer.nesterov);
  EXPECT_EQ(c.schedule.name, "cosine");
  EXPECT_EQ(c.schedule.style, "pytorch");
  EXPECT_DOUBLE_EQ(c.schedule.pct_start, 0.25);
  EXPECT_DOUBLE_EQ(c.schedule.div, 10);
  EXPECT_DOUBLE_EQ(c.schedule.final_div, 100);
  EXPECT_DOUBLE_EQ(c.schedule.moms_max, 0.9);
  EXPECT_DOUBLE_EQ(c.schedule.moms_min, 0.8);
  EXPECT_DOUBLE_EQ(c.schedule.final_lr_fraction, 0.01);
  EXPECT_EQ(c.train.epochs, 12);
  EXPECT_EQ(c.train.batch_size, 32);
  EXPECT_FALSE(c.train.drop_last);
  EXPECT_DOUBLE_EQ(c.train.val_fraction, 0.25);
  EXPECT_EQ(c.train.folds, 5);
  EXPECT_EQ(c.train.repeats, 3);
  EXPECT_EQ(c.train.ensemble_seeds, (std::vector<uint64_t>{1, 2, 18446744073709551615ull}));
  EXPECT_EQ(c.train.best_metric, "val_accuracy");
  EXPECT_EQ(c.train.patience, 4);
  EXPECT_EQ(c.train.eval_batch_size, 128);
  EXPECT_DOUBLE_EQ(c.train.grad_clip, 2.5);
  EXPECT_EQ(c.train.on_nonfinite, "skip_step");
  EXPECT_EQ(c.train.stop_after_epochs, 3);
  EXPECT_EQ(c.output.dir, "results/run1");
  EXPECT_FALSE(c.output.report);
  EXPECT_FALSE(c.output.checkpoints);
  EXPECT_FALSE(c.output.probabilities);
}

TEST(Config, LayerListKeepsTypesArgsDefaultsAndLines) {
  const Config c = parse_config(kSmallCnn, "small.yaml");
  const auto& layers = c.model.layers;
  ASSERT_EQ(layers.size(), 17u);
  EXPECT_EQ(layers[0].type, "conv2d");
  EXPECT_EQ(layers[0].line, 4);
  EXPECT_EQ(layers[0].args.at("out"), 32);
  EXPECT_EQ(layers[0].args.at("kernel"), 3);
  EXPECT_EQ(layers[0].args.at("padding"), 1);
  EXPECT_EQ(layers[0].args.at("stride"), 1);  // default
  EXPECT_EQ(layers[0].args.at("bias"), 1);    // default
  EXPECT_EQ(layers[1].type, "batch_norm");
  EXPECT_EQ(layers[1].line, 5);
  EXPECT_DOUBLE_EQ(layers[1].args.at("eps"), 1e-5);
  EXPECT_DOUBLE_EQ(layers[1].args.at("momentum"), 0.1);
  EXPECT_EQ(layers[2].type, "relu");
  EXPECT_TRUE(layers[2].args.empty());
  EXPECT_EQ(layers[6].type, "max_pool");
  EXPECT_EQ(layers[6].args.at("kernel"), 2);
  EXPECT_EQ(layers[6].args.at("stride"), 2);  // stride defaults to the kernel
  EXPECT_EQ(layers[6].args.at("padding"), 0);
  EXPECT_EQ(layers[10].type, "adaptive_avg_pool");
  EXPECT_EQ(layers[10].args.at("size"), 1);
  EXPECT_DOUBLE_EQ(layers[12].args.at("p"), 0.25);
  EXPECT_DOUBLE_EQ(layers[15].args.at("p"), 0.5);  // default
  EXPECT_EQ(layers[16].type, "linear");
  EXPECT_EQ(layers[16].line, 20);

  const Config pools = parse_config(R"(model:
  layers:
    - avg_pool: {kernel: 3, stride: 1, padding: 1}
    - adaptive_concat_pool: {size: 2}
    - adaptive_max_pool
    - flatten
    - linear: {out: 2}
)",
                                    "pools.yaml");
  EXPECT_EQ(pools.model.layers[0].args.at("stride"), 1);
  EXPECT_EQ(pools.model.layers[1].args.at("size"), 2);
  EXPECT_EQ(pools.model.layers[2].line, 5);
}

TEST(Config, ResnetNeedsNoLayers) {
  const Config c =
      parse_config("model: {arch: resnet34}\ntrain: {frozen_epochs: 4, epochs: 4}\n", "r.yaml");
  EXPECT_EQ(c.model.arch, "resnet34");
  EXPECT_TRUE(c.model.layers.empty());
  EXPECT_EQ(c.train.frozen_epochs, 4);
}

TEST(ConfigErrors, UnknownKeySuggestsTheClosestKey) {
  const std::string top = parse_error(small_with("optimiser:\n  lr: 0.01\n"));
  EXPECT_HAS(top, "unknown key `optimiser` at configs/x.yaml:21, did you mean `optimizer`?");

  const std::string nested = parse_error(small_with("train:\n  epochs: 3\n  batchsize: 8\n"));
  EXPECT_HAS(nested, "unknown key `train.batchsize` at configs/x.yaml:23");
  EXPECT_HAS(nested, "did you mean `train.batch_size`?");

  const std::string far = parse_error(small_with("train:\n  zzzzqqq: 1\n"));
  EXPECT_HAS(far, "unknown key `train.zzzzqqq` at configs/x.yaml:22");
  EXPECT_LACKS(far, "did you mean");
  EXPECT_HAS(far, "batch_size");  // lists what is allowed instead

  const std::string misplaced = parse_error(small_with("epochs: 3\n"));
  EXPECT_HAS(misplaced, "unknown key `epochs` at configs/x.yaml:21");
  EXPECT_HAS(misplaced, "`train.epochs`");

  const std::string dotted = parse_error(small_with("train.epochs: 3\n"));
  EXPECT_HAS(dotted, "configs/x.yaml:21");
  EXPECT_HAS(dotted, "train: {epochs: ...}");
}

TEST(ConfigErrors, WrongTypeNamesLineKeyAndValue) {
  EXPECT_HAS(parse_error(small_with("train:\n  epochs: ten\n")),
             "configs/x.yaml:22: `train.epochs` must be an integer, got `ten`");
  EXPECT_HAS(parse_error(small_with("train:\n  epochs: 2.5\n")),
             "`train.epochs` must be an integer, got `2.5`");
  EXPECT_HAS(parse_error(small_with("optimizer:\n  lr: fast\n")),
             "configs/x.yaml:22: `optimizer.lr` must be a number, got `fast`");
  EXPECT_HAS(parse_error(small_with("optimizer:\n  lr: .nan\n")), "must be a number");
  EXPECT_HAS(parse_error(small_with("deterministic: maybe\n")),
             "configs/x.yaml:21: `deterministic` must be true or false, got `maybe`");
  EXPECT_HAS(parse_error(small_with("train:\n  epochs: [1, 2]\n")), "got a list");
  EXPECT_HAS(parse_error(small_with("train:\n  epochs:\n")),
             "configs/x.yaml:22: `train.epochs` must be an integer, got nothing");
  EXPECT_HAS(parse_error(small_with("data:\n  features: sex_female\n")),
             "`data.features` must be a list of strings, got `sex_female`");
  EXPECT_HAS(parse_error(small_with("data:\n  features:\n    - sex_female\n    - [a]\n")),
             "configs/x.yaml:24: `data.features[1]` must be a non-empty string, got a list");
  EXPECT_HAS(parse_error(small_with("train:\n  ensemble_seeds: [1, x]\n")),
             "`train.ensemble_seeds[1]` must be a non-negative integer, got `x`");
  EXPECT_HAS(parse_error(small_with("train: 5\n")),
             "configs/x.yaml:21: `train` must be a map of keys");
  EXPECT_HAS(parse_error("- a\n- b\n"), "configs/x.yaml:1: the config must be a map of keys");
}

TEST(ConfigErrors, OutOfRangeNamesTheAllowedRange) {
  EXPECT_HAS(parse_error(small_with("train:\n  batch_size: 0\n")),
             "configs/x.yaml:22: `train.batch_size` = 0 is out of range: allowed 1..65536");
  EXPECT_HAS(parse_error(small_with("train:\n  val_fraction: 0.95\n")),
             "`train.val_fraction` = 0.95 is out of range: allowed [0, 0.9]");
  EXPECT_HAS(parse_error(small_with("train:\n  folds: 1\n")),
             "`train.folds` = 1 is out of range: allowed 0 or 2..20");
  EXPECT_HAS(parse_error(small_with("train:\n  folds: 21\n")), "allowed 0 or 2..20");
  EXPECT_HAS(parse_error(small_with("data:\n  channels: 2\n")),
             "`data.channels` = 2 is out of range: allowed 1 or 3");
  EXPECT_HAS(parse_error(small_with("optimizer:\n  lr: 0\n")),
             "`optimizer.lr` = 0 is out of range: allowed (0, 10]");
  const std::string layers_only = std::string(kSmallCnn).substr(std::string("seed: 0\n").size());
  EXPECT_HAS(parse_error("seed: -1\n" + layers_only),
             "configs/x.yaml:1: `seed` = -1 is out of range: allowed 0..18446744073709551615");
  EXPECT_HAS(parse_error("seed: 18446744073709551616\n" + layers_only),
             "`seed` = 18446744073709551616 is out of range");
  EXPECT_EQ(parse_config("seed: 18446744073709551615\n" + layers_only, "s.yaml").seed,
            18446744073709551615ull);
  EXPECT_HAS(parse_error(small_with("train:\n  epochs: 99999999999999999999\n")),
             "`train.epochs` = 99999999999999999999 is out of range");
  EXPECT_HAS(parse_error(small_with("device: gpu\n")),
             "configs/x.yaml:21: `device` must be one of auto, cpu, cuda, got `gpu`");
  EXPECT_HAS(parse_error(small_with("optimizer: {name: adam}\n")), "did you mean `adamw`?");
  EXPECT_HAS(parse_error(small_with("train:\n  grad_clip: -1\n")),
             "`train.grad_clip` = -1 is out of range: allowed [0, 1000000]");
  EXPECT_HAS(parse_error(small_with("train:\n  on_nonfinite: ignore\n")),
             "`train.on_nonfinite` must be one of stop, skip_step, got `ignore`");
}

TEST(ConfigErrors, CrossFieldRules) {
  EXPECT_HAS(parse_error(small_with("schedule:\n  moms_max: 0.8\n  moms_min: 0.9\n")),
             "configs/x.yaml:23: `schedule.moms_min` = 0.9 is above `schedule.moms_max`");
  EXPECT_HAS(parse_error(small_with("train:\n  val_fraction: 0\n  patience: 3\n")),
             "configs/x.yaml:23: `train.patience` = 3");
  // With folds there is validation even without a hold-out fraction.
  EXPECT_NO_THROW(parse_config(small_with("train:\n  val_fraction: 0\n  folds: 5\n  patience: 3\n"),
                               "ok.yaml"));
  EXPECT_HAS(parse_error(small_with("train:\n  repeats: 3\n")), "`train.repeats` = 3");
  EXPECT_HAS(parse_error(small_with("train:\n  ensemble_seeds: [1, 2, 1]\n")),
             "`train.ensemble_seeds` lists 1 twice");
  EXPECT_HAS(parse_error(small_with("data:\n  features: [a, b, a]\n")),
             "`data.features` lists `a` twice");
  EXPECT_HAS(parse_error(small_with("data:\n  features: [a, b]\n  rank_top_k: 3\n")),
             "`data.rank_top_k` = 3");
  EXPECT_HAS(parse_error(small_with("train:\n  frozen_epochs: 2\n")), "`train.frozen_epochs` = 2");
  EXPECT_HAS(parse_error("seed: 1\n"), "`model.layers` is empty");
  EXPECT_HAS(parse_error(small_with("model:\n  arch: resnet18\n")),
             "section `model` appears twice");
  EXPECT_HAS(parse_error("model:\n  arch: resnet18\n  layers: [relu]\n"),
             "configs/x.yaml:2: `model.arch` is `resnet18`");
  EXPECT_HAS(parse_error("model:\n  num_classes: 3\n  layers: [flatten, {linear: {out: 2}}]\n"),
             "configs/x.yaml:3: the last layer of `model.layers` must be `linear` with out = "
             "`model.num_classes` (3)");
  EXPECT_HAS(parse_error("model:\n  layers: [flatten, {linear: {out: 2}}, relu]\n"), "got `relu`");
}

TEST(ConfigErrors, LayerMistakes) {
  const auto with_layer = [](const std::string& layer) {
    return "model:\n  layers:\n    - " + layer + "\n    - flatten\n    - linear: {out: 2}\n";
  };
  EXPECT_HAS(parse_error(with_layer("conv2: {out: 8}")),
             "unknown layer type `conv2` at configs/x.yaml:3, did you mean `conv2d`?");
  EXPECT_HAS(parse_error(with_layer("transformer")), "the layer types are conv2d, batch_norm");
  EXPECT_HAS(parse_error(with_layer("conv2d: {out: 8, kernal: 3}")),
             "unknown argument `model.layers[0].conv2d.kernal` at configs/x.yaml:3, did you mean "
             "`model.layers[0].conv2d.kernel`?");
  EXPECT_HAS(parse_error(with_layer("conv2d: {kernel: 3}")),
             "configs/x.yaml:3: `model.layers[0].conv2d` needs `out`");
  EXPECT_HAS(parse_error(with_layer("conv2d")), "needs `out`");
  EXPECT_HAS(parse_error(with_layer("conv2d: {out: 8, kernel: 20}")),
             "`model.layers[0].conv2d.kernel` = 20 is out of range: allowed 1..15");
  EXPECT_HAS(parse_error(with_layer("conv2d: {out: 8, bias: perhaps}")),
             "`model.layers[0].conv2d.bias` must be true or false");
  EXPECT_HAS(parse_error(with_layer("dropout: {p: 1}")),
             "`model.layers[0].dropout.p` = 1 is out of range: allowed [0, 1)");
  EXPECT_HAS(parse_error(with_layer("relu: {inplace: 1}")), "`relu` takes no arguments");
  EXPECT_HAS(parse_error(with_layer("max_pool: {kernel: 2, padding: 2}")),
             "`model.layers[0].max_pool.padding` = 2 is out of range: allowed 0..1");
  EXPECT_HAS(parse_error(with_layer("conv2d: {out: 8, out: 9}")), "is given twice");
  EXPECT_HAS(parse_error("model:\n  layers:\n    - conv2d:\n      out: 8\n    - flatten\n"),
             "configs/x.yaml:3: `model.layers[0]` has 2 keys (conv2d, out)");
  EXPECT_HAS(parse_error(with_layer("[relu]")), "`model.layers[0]` must be a layer, got a list");
  EXPECT_HAS(parse_error("model:\n  layers: relu\n"),
             "`model.layers` must be a list of layers, got `relu`");
  EXPECT_HAS(parse_error(with_layer("linear: 5")),
             "`model.layers[0].linear` must be a map of arguments, got `5`");
  // Booleans and 1/0 both work for a flag.
  EXPECT_EQ(parse_config(with_layer("conv2d: {out: 8, bias: 0}"), "b.yaml")
                .model.layers[0]
                .args.at("bias"),
            0.0);
  EXPECT_EQ(parse_config(with_layer("conv2d: {out: 8, bias: true}"), "b.yaml")
                .model.layers[0]
                .args.at("bias"),
            1.0);
}

TEST(ConfigErrors, FileLevelProblems) {
  EXPECT_HAS(parse_error(""), "configs/x.yaml: config is empty");
  EXPECT_HAS(parse_error("# only a comment\n"), "config is empty");
  EXPECT_HAS(parse_error(small_with("train:\n  epochs: 3\n  epochs: 4\n")),
             "configs/x.yaml:23: key `train.epochs` appears twice (first at line 22)");
  const std::string syntax = parse_error("seed: 0\ntrain: {epochs: [1, 2}\n");
  EXPECT_HAS(syntax, "configs/x.yaml:2:");
  EXPECT_HAS(syntax, "YAML syntax error");
  EXPECT_HAS(parse_error(std::string(kSmallCnn) + "---\nseed: 1\n"), "2 YAML documents");

  try {
    load_config("no/such/config.yaml");
    ADD_FAILURE() << "missing file accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_HAS(e.what(),
               "config file no/such/config.yaml not found: pass --config with an "
               "existing file, e.g. configs/cnn.yaml");
  }
}

TEST(Config, LoadConfigReadsAFileAndNamesItInMessages) {
  const auto dir = std::filesystem::temp_directory_path() / "keel_config_test";
  std::filesystem::create_directories(dir);
  const std::string good = (dir / "good.yaml").string();
  std::ofstream(good) << kSmallCnn << "train: {epochs: 7}\n";
  const Config c = load_config(good);
  EXPECT_EQ(c.source, good);
  EXPECT_EQ(c.train.epochs, 7);

  const std::string bad = (dir / "bad.yaml").string();
  std::ofstream(bad) << kSmallCnn << "train: {epochs: 0}\n";
  try {
    load_config(bad);
    ADD_FAILURE() << "epochs 0 accepted";
  } catch (const Error& e) {
    EXPECT_HAS(e.what(), bad + ":21: `train.epochs` = 0 is out of range: allowed 1..100000");
  }
  EXPECT_THROW(load_config(dir.string()), Error);  // a folder is not a config
  std::filesystem::remove_all(dir);
}

TEST(ConfigOverride, SetsValuesWithTheSameChecks) {
  Config c = parse_config(kSmallCnn, "small.yaml");
  apply_override(c, "train.epochs=5");
  EXPECT_EQ(c.train.epochs, 5);
  apply_override(c, " optimizer.lr = 1e-2");
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 0.01);
  apply_override(c, "data.features=[sex_female,pclass_1]");
  EXPECT_EQ(c.data.features, (std::vector<std::string>{"sex_female", "pclass_1"}));
  apply_override(c, "seed=123");
  EXPECT_EQ(c.seed, 123u);
  apply_override(c, "train.drop_last=false");
  EXPECT_FALSE(c.train.drop_last);
  EXPECT_FALSE(c.cuda_graph);
  apply_override(c, "cuda_graph=true");
  EXPECT_TRUE(c.cuda_graph);
  apply_override(c, "output.dir=runs/a b");
  EXPECT_EQ(c.output.dir, "runs/a b");
  apply_override(c, "train.ensemble_seeds=[3, 4]");
  EXPECT_EQ(c.train.ensemble_seeds, (std::vector<uint64_t>{3, 4}));
  apply_override(c, "data.features=[]");
  EXPECT_TRUE(c.data.features.empty());
}

TEST(ConfigOverride, ErrorsNameTheAssignment) {
  const Config c = parse_config(kSmallCnn, "small.yaml");
  EXPECT_HAS(override_error(c, "train.epochs=ten"),
             "`--set train.epochs=ten`: `train.epochs` must be an integer, got `ten`");
  EXPECT_HAS(
      override_error(c, "train.batch_size=0"),
      "`--set train.batch_size=0`: `train.batch_size` = 0 is out of range: allowed 1..65536");
  EXPECT_HAS(override_error(c, "train.epoch=5"),
             "unknown key `train.epoch` at `--set train.epoch=5`, did you mean `train.epochs`?");
  EXPECT_HAS(override_error(c, "optimiser.lr=1"), "did you mean `optimizer.lr`?");
  EXPECT_HAS(override_error(c, "epochs=5"), "`train.epochs`");
  EXPECT_HAS(override_error(c, "model.layers=[relu]"), "`model.layers` cannot be set with --set");
  EXPECT_HAS(override_error(c, "train=5"), "`train` is a section");
  EXPECT_HAS(override_error(c, "train.epochs"), "has no `=`");
  EXPECT_HAS(override_error(c, "=5"), "has no key");
  EXPECT_HAS(override_error(c, "data.features=[a, b"), "is not valid YAML");
  EXPECT_HAS(override_error(c, "model.num_classes=3"), "the last layer of `model.layers`");
  EXPECT_HAS(override_error(c, "device=gpu"), "`device` must be one of auto, cpu, cuda");

  // A rejected override leaves the config untouched.
  Config kept = c;
  EXPECT_THROW(apply_override(kept, "schedule.moms_min=0.99"), Error);
  EXPECT_EQ(to_yaml(kept), to_yaml(c));
}

TEST(ConfigYaml, RoundTripGivesTheSameConfig) {
  for (const char* text : {kSmallCnn, kFull}) {
    const Config original = parse_config(text, "a.yaml");
    const std::string yaml = to_yaml(original);
    const Config again = parse_config(yaml, "resolved.yaml");
    EXPECT_EQ(to_yaml(again), yaml);
    EXPECT_EQ(config_hash(again), config_hash(original));
    EXPECT_EQ(again.optimizer.lr, original.optimizer.lr);  // exact, not approximately
    EXPECT_EQ(again.train.ensemble_seeds, original.train.ensemble_seeds);
    EXPECT_EQ(again.data.features, original.data.features);
    ASSERT_EQ(again.model.layers.size(), original.model.layers.size());
    for (size_t i = 0; i < again.model.layers.size(); ++i) {
      EXPECT_EQ(again.model.layers[i].type, original.model.layers[i].type);
      EXPECT_EQ(again.model.layers[i].args, original.model.layers[i].args);
    }
  }
  // Awkward but legal values survive too.
  Config odd = parse_config(kSmallCnn, "a.yaml");
  apply_override(odd, "output.dir='out: with # odd \"chars\"'");
  apply_override(odd, "data.features=[\"true\", \"null\", \"1\"]");
  apply_override(odd, "optimizer.lr=0.1");
  apply_override(odd, "seed=18446744073709551615");
  const Config odd_again = parse_config(to_yaml(odd), "odd.yaml");
  EXPECT_EQ(odd_again.output.dir, "out: with # odd \"chars\"");
  EXPECT_EQ(odd_again.data.features, (std::vector<std::string>{"true", "null", "1"}));
  EXPECT_EQ(odd_again.optimizer.lr, 0.1);
  EXPECT_EQ(odd_again.seed, 18446744073709551615ull);
}

TEST(ConfigYaml, ListsEveryKeyInSchemaOrder) {
  const std::string yaml = to_yaml(parse_config(kFull, "a.yaml"));
  size_t last = 0;
  for (const ConfigKeyDoc& doc : config_key_docs()) {
    const std::string leaf = doc.key.substr(doc.key.find('.') + 1);
    const size_t at = yaml.find(leaf + ":", last);
    ASSERT_NE(at, std::string::npos) << doc.key << " missing or out of order in\n" << yaml;
    last = at;
  }
  EXPECT_HAS(yaml, "- conv2d: {out: 16, kernel: 3, stride: 1, padding: 0, bias: false}");
  EXPECT_HAS(yaml, "- relu\n");
}

TEST(ConfigHash, StableAndSensitive) {
  const Config base = parse_config(kFull, "a.yaml");
  EXPECT_EQ(config_hash(base), config_hash(parse_config(kFull, "b.yaml")));

  // What may change between a run and its resume does not change the hash.
  for (const char* allowed : {"output.dir=elsewhere", "data.dir=/data", "threads=7", "device=cuda",
                              "train.stop_after_epochs=9", "train.on_nonfinite=stop"}) {
    Config c = base;
    apply_override(c, allowed);
    EXPECT_EQ(config_hash(c), config_hash(base)) << allowed;
  }
  // Everything else does.
  for (const char* changed : {"train.epochs=13", "optimizer.lr=0.0012345679", "seed=43",
                              "data.features=[sex_female,pclass_1]", "output.report=true",
                              "train.ensemble_seeds=[1, 2]", "gpu_backend=keel",
                              "train.grad_clip=1"}) {
    Config c = base;
    apply_override(c, changed);
    EXPECT_NE(config_hash(c), config_hash(base)) << changed;
  }
  Config layer = base;
  layer.model.layers[0].args["out"] = 17;
  EXPECT_NE(config_hash(layer), config_hash(base));
}

TEST(ConfigDocs, OneRowPerKeyWithTypeDefaultRange) {
  const auto docs = config_key_docs();
  EXPECT_EQ(docs.size(), config_detail::key_specs().size());
  for (const ConfigKeyDoc& doc : docs) {
    EXPECT_FALSE(doc.type.empty()) << doc.key;
    EXPECT_FALSE(doc.default_value.empty()) << doc.key;
    EXPECT_FALSE(doc.range.empty()) << doc.key;
    EXPECT_FALSE(doc.meaning.empty()) << doc.key;
  }
  const auto find = [&](const std::string& key) {
    for (const ConfigKeyDoc& doc : docs)
      if (doc.key == key) return doc;
    ADD_FAILURE() << key << " undocumented";
    return ConfigKeyDoc{};
  };
  EXPECT_EQ(find("train.batch_size").default_value, "64");
  EXPECT_EQ(find("train.batch_size").range, "1..65536");
  EXPECT_EQ(find("train.folds").range, "0 or 2..20");
  EXPECT_EQ(find("optimizer.lr").default_value, "0.003");
  EXPECT_EQ(find("device").range, "auto, cpu, cuda");
  EXPECT_EQ(find("train.drop_last").type, "boolean");
}

// configs/README.md carries one table row per key, exactly as config_key_docs() gives it, and
// every layer type and argument, so the documentation cannot drift from the code.
TEST(ConfigDocs, ReadmeDocumentsEveryKeyAndLayer) {
  // CTest sets KEEL_SOURCE_DIR; when the binary is run by hand, this file's own path (CMake
  // compiles it by absolute path) locates the source tree instead.
  const char* env = std::getenv("KEEL_SOURCE_DIR");
  const std::filesystem::path source_dir =
      env != nullptr ? std::filesystem::path(env)
                     : std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  const auto readme_path = source_dir / "configs" / "README.md";
  std::ifstream in(readme_path);
  ASSERT_TRUE(in) << readme_path << " missing";
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  for (const ConfigKeyDoc& doc : config_key_docs()) {
    const std::string row = "| `" + doc.key + "` | " + doc.type + " | `" + doc.default_value +
                            "` | " + doc.range + " | " + doc.meaning + " |";
    EXPECT_HAS(readme, row);
  }
  for (const auto& layer : config_detail::layer_specs()) {
    EXPECT_HAS(readme, "| `" + layer.type + "` |");
    for (const auto& arg : layer.args) EXPECT_HAS(readme, "`" + arg.name + "`");
  }
}

}  // namespace
}  // namespace keel

namespace keel {
namespace {

TEST(ConfigOverrides, CrossFieldRulesSeeAllOverridesTogether) {
  Config c = parse_config(
      "model:\n  layers: [flatten, {linear: {out: 2}}]\n", "inline.yaml");
  // repeats > 1 needs folds > 1: accepted in either order when both are given together.
  apply_overrides(c, {"train.repeats=3", "train.folds=5"});
  EXPECT_EQ(c.train.repeats, 3);
  EXPECT_EQ(c.train.folds, 5);
  Config d = parse_config("model:\n  layers: [flatten, {linear: {out: 2}}]\n", "inline.yaml");
  try {
    apply_overrides(d, {"train.repeats=3"});
    FAIL() << "repeats without folds must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--set train.repeats=3"), std::string::npos) << e.what();
  }
  EXPECT_EQ(d.train.repeats, 1) << "a refused override leaves the config unchanged";
}

}  // namespace
}  // namespace keel
