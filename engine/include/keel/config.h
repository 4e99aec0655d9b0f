// The typed configuration of a training run, parsed strictly from YAML (unknown keys, wrong types
// and out-of-range values are errors naming file:line and key). Every key is documented in configs/README.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace keel {

// One layer of a model given as a list in the config, e.g. `- conv2d: {out: 32, kernel: 3, padding: 1}`.
// `type` is the layer name; `args` its validated numeric arguments (missing ones take defaults).
struct LayerSpec {
  std::string type;  // conv2d, batch_norm, relu, max_pool, avg_pool, adaptive_avg_pool,
                     // adaptive_max_pool, adaptive_concat_pool, flatten, dropout, linear
  std::map<std::string, double> args;
  int line = 0;  // line in the config file, for error messages
};

struct DataConfig {
  std::string dir = "data/titanic";       // --data / KEEL_DATA_DIR override it
  std::vector<std::string> features;      // explicit ordered list; empty = the 33 of PIPELINE.md §2
  int rank_top_k = 0;                     // > 0: keel ranks features by logistic regression, keeps k
  int channels = 1;                       // 1 or 3
  int image_size = 0;                     // 0: the square side S itself; else bilinear resize to this
  bool imagenet_normalize = false;        // normalise with ImageNet mean/std (seed recipe)
  bool augment = false;                   // the seed recipe's training augmentations
  bool write_images = false;              // also write the PNGs into <out>/images
};

struct ModelConfig {
  std::string arch = "layers";            // "layers" (the list below) or "resnet34" / "resnet18"
  std::vector<LayerSpec> layers;
  int num_classes = 2;
  // resnet options
  std::string head = "fastai";            // fastai concat-pool head of PIPELINE.md §4
  double head_dropout1 = 0.25;
  double head_dropout2 = 0.5;
  int head_hidden = 512;
  std::string pretrained = "none";        // safetensors file the models start from; none: random init
};

struct OptimizerConfig {
  std::string name = "adamw";             // adamw | sgd
  double lr = 3e-3;                       // max LR of the head (and of everything for "layers")
  double body_lr = 3e-4;                  // resnet body group's max LR
  double beta1 = 0.9, beta2 = 0.99, eps = 1e-5;
  double weight_decay = 0.01;
  double momentum = 0.9;                  // sgd
  bool nesterov = false;                  // sgd
};

struct ScheduleConfig {
  std::string name = "one_cycle";         // one_cycle | cosine | constant
  std::string style = "fastai";           // one_cycle: fastai (fastai v1) | pytorch (OneCycleLR)
  double pct_start = 0.3;
  double div = 25.0;
  double final_div = 1e4;
  double moms_max = 0.95, moms_min = 0.85;  // beta1 cycling; equal values turn it off
  double final_lr_fraction = 0.0;         // cosine: final LR as a fraction of lr
};

struct TrainConfig {
  int epochs = 30;
  int frozen_epochs = 0;                  // resnet: epochs with the body frozen before `epochs`
  int batch_size = 64;
  bool drop_last = true;
  double val_fraction = 0.2;              // stratified hold-out; 0 = train on everything
  int folds = 0;                          // > 1: stratified k-fold cross-validation
  int repeats = 1;                        // repeated k-fold: different seeds per repeat
  std::vector<uint64_t> ensemble_seeds;   // > 1 entries: train one model per seed, average
  std::string best_metric = "val_loss";   // val_loss | val_accuracy | last
  int patience = 0;                       // early stopping; 0 = off
  int eval_batch_size = 256;
  double grad_clip = 0.0;                 // > 0: clip the global gradient L2 norm to this; 0 = off
  std::string on_nonfinite = "stop";      // stop | skip_step: a non-finite loss or gradient
  double loss_scale = 65536.0;            // precision fp16: the loss scaler's initial scale
  int loss_scale_growth_interval = 2000;  // precision fp16: clean steps before the scale doubles
  double label_smoothing = 0.0;           // epsilon of the smoothed targets; 0 = plain labels
  double mixup = 0.0;                     // alpha of mixup's Beta(alpha, alpha); 0 = off
  int stop_after_epochs = 0;              // > 0: stop, with a checkpoint, after this many epochs of
                                          // the run (0 = off); tests use it to check bit-identical resume
  bool sync_batch_norm = false;           // data-parallel: batch statistics over the global batch
};

// mpirun -np N titanic_train: how the N processes share the work (keel/dist.h).
struct DistConfig {
  std::string mode = "auto";              // auto | data | folds
};

struct OutputConfig {
  std::string dir = "out";
  bool report = true;
  bool checkpoints = true;
  bool probabilities = true;
};

struct PredictConfig {
  int tta = 0;                            // > 0: test-time augmentation passes (needs data.augment)
};

// titanic_train --evaluate: nested cross-validation of the whole recipe (engine/.../evaluate.h).
struct EvaluateConfig {
  int folds = 5;                          // outer stratified folds
  int repeats = 2;                        // outer repeats, each with its own shuffle
  // Alternatives the inner loop chooses between, each a `;`-separated list of key=value
  // overrides ("data.rank_top_k=16; train.epochs=20"); empty: the recipe as it is.
  std::vector<std::string> candidates;
};

struct Config {
  std::string source;                     // file the config was read from ("" for defaults)
  uint64_t seed = 0;
  std::string device = "auto";            // auto | cpu | cuda
  std::string gpu_backend = "keel";       // keel | cudnn
  std::string cpu_conv_algo = "auto";     // auto | im2col | winograd (keel::CpuConvAlgo)
  int threads = 0;                        // 0 = all cores
  bool deterministic = false;
  bool cuda_graph = false;                // on cuda: replay the training step as a CUDA graph
  std::string precision = "fp32";         // fp32 | fp16 | bf16: the GEMM and convolution operands
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
// The `;`-separated key=value parts of an `evaluate.candidates` entry, trimmed, empty parts dropped.
std::vector<std::string> candidate_overrides(const std::string& candidate);
// The fully resolved config as YAML (every key, defaults filled in), printed at start and saved.
std::string to_yaml(const Config& config);
// A stable hash of the resolved config (checkpoints refuse to resume under another config).
uint64_t config_hash(const Config& config);

// One row per documented key: the source for configs/README.md and its completeness test.
struct ConfigKeyDoc {
  std::string key, type, default_value, range, meaning;
};
std::vector<ConfigKeyDoc> config_key_docs();

}  // namespace keel
