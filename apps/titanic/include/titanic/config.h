// The typed configuration of a training run, parsed strictly from YAML (unknown keys, wrong types
// and out-of-range values are errors naming file:line and key). Every key is documented in
// configs/README.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "keel/train/trainer_options.h"

namespace keel {

// One layer of a model given as a list in the config, e.g. `- conv2d: {out: 32, kernel: 3, padding:
// 1}`. `type` is the layer name; `args` its validated numeric arguments (missing ones take
// defaults).
struct LayerSpec {
  std::string type;  // conv2d, batch_norm, relu, max_pool, avg_pool, adaptive_avg_pool,
                     // adaptive_max_pool, adaptive_concat_pool, flatten, dropout, linear
  std::map<std::string, double> args;
  int line = 0;  // line in the config file, for error messages
};

// data.image_size, data.imagenet_normalize and data.augment are the Trainer's InputOptions.
struct DataConfig : train::InputOptions {
  std::string dir = "data/titanic";   // --data / KEEL_DATA_DIR override it
  std::vector<std::string> features;  // explicit ordered list; empty = the 33 of PIPELINE.md §2
  int rank_top_k = 0;                 // > 0: keel ranks features by logistic regression, keeps k
  int channels = 1;                   // 1 or 3
  bool write_images = false;          // also write the PNGs into <out>/images
};

struct ModelConfig {
  std::string arch = "layers";  // "layers" (the list below) or "resnet34" / "resnet18"
  std::vector<LayerSpec> layers;
  int num_classes = 2;
  // resnet options
  std::string head = "fastai";  // fastai concat-pool head of PIPELINE.md §4
  double head_dropout1 = 0.25;
  double head_dropout2 = 0.5;
  int head_hidden = 512;
  std::string pretrained = "none";  // safetensors file the models start from; none: random init
};

using OptimizerConfig = train::OptimizerOptions;

using ScheduleConfig = train::ScheduleOptions;

// The Trainer's LoopOptions, plus how the job splits its rows into models.
struct TrainConfig : train::LoopOptions {
  double val_fraction = 0.2;             // stratified hold-out; 0 = train on everything
  int folds = 0;                         // > 1: stratified k-fold cross-validation
  int repeats = 1;                       // repeated k-fold: different seeds per repeat
  std::vector<uint64_t> ensemble_seeds;  // > 1 entries: train one model per seed, average
};

// mpirun -np N titanic_train: how the N processes share the work (keel/dist.h).
struct DistConfig {
  std::string mode = "auto";  // auto | data | folds
};

struct OutputConfig {
  std::string dir = "out";
  bool report = true;
  bool checkpoints = true;
  bool probabilities = true;
};

struct PredictConfig {
  int tta = 0;  // > 0: test-time augmentation passes (needs data.augment)
};

// titanic_train --evaluate: nested cross-validation of the whole recipe (engine/.../evaluate.h).
struct EvaluateConfig {
  int folds = 5;    // outer stratified folds
  int repeats = 2;  // outer repeats, each with its own shuffle
  // Alternatives the inner loop chooses between, each a `;`-separated list of key=value
  // overrides ("data.rank_top_k=16; train.epochs=20"); empty: the recipe as it is.
  std::vector<std::string> candidates;
};

struct Config {
  std::string source;  // file the config was read from ("" for defaults)
  uint64_t seed = 0;
  std::string device = "auto";         // auto | cpu | cuda
  std::string gpu_backend = "keel";    // keel | cudnn
  std::string cpu_conv_algo = "auto";  // auto | im2col | winograd (keel::CpuConvAlgo)
  int threads = 0;                     // 0 = all cores
  bool deterministic = false;
  bool cuda_graph = false;         // on cuda: replay the training step as a CUDA graph
  std::string precision = "fp32";  // fp32 | fp16 | bf16: the GEMM and convolution operands
  DataConfig data;
  ModelConfig model;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  TrainConfig train;
  DistConfig dist;
  OutputConfig output;
  PredictConfig predict;
  EvaluateConfig evaluate;
};

// Reads and validates a YAML config. Throws keel::Error(ErrorKind::config) with file:line and a
// did-you-mean for unknown keys, the allowed range for out-of-range values, the expected type.
Config load_config(const std::string& path);
Config parse_config(const std::string& yaml_text, const std::string& source_name);
// Applies `key=value` overrides (dotted keys, e.g. train.epochs=5, model.layers is not settable).
void apply_override(Config& config, const std::string& assignment);
// Several overrides at once; the rules tying keys together are checked after all are applied.
void apply_overrides(Config& config, const std::vector<std::string>& assignments);
// The `;`-separated key=value parts of an `evaluate.candidates` entry, trimmed, empty parts
// dropped.
std::vector<std::string> candidate_overrides(const std::string& candidate);
// The fully resolved config as YAML (every key, defaults filled in), printed at start and saved.
std::string to_yaml(const Config& config);
// What the Trainer takes from a config: its optimizer, schedule, train and input keys.
train::TrainerOptions trainer_options(const Config& config);
// A stable hash of the resolved config (checkpoints refuse to resume under another config).
uint64_t config_hash(const Config& config);

// One row per documented key: the source for configs/README.md and its completeness test.
struct ConfigKeyDoc {
  std::string key, type, default_value, range, meaning;
};
std::vector<ConfigKeyDoc> config_key_docs();

}  // namespace keel
