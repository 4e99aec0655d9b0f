// The table of every config key and layer type with its type, range and meaning. Defaults are not
// repeated here: they are read from a default-constructed Config, so config.h is their only home.
#include "schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

namespace keel::config_detail {

namespace {

// A capture-free accessor per key; the FieldRef variant checks the member's type at compile time.
#define KEEL_FIELD(member) [](Config& c) -> FieldRef { return &c.member; }

Interval closed(double lo, double hi) {
  return {lo, hi, false, false};
}
Interval upper_open(double lo, double hi) {
  return {lo, hi, false, true};
}
Interval lower_open(double lo, double hi) {
  return {lo, hi, true, false};
}
Interval open(double lo, double hi) {
  return {lo, hi, true, true};
}

std::vector<KeySpec> build_key_specs() {
  const bool hashed = true, unhashed = false;
  // One row per key, kept one key to a few lines so the table reads as a table.
  // clang-format off
  return {
      {"seed", KEEL_FIELD(seed), {}, {}, hashed,
       "seed of every random choice: split, folds, weight init, shuffling, augmentation, dropout"},
      {"device", KEEL_FIELD(device), {}, {"auto", "cpu", "cuda"}, unhashed,
       "where to train; auto takes cuda when a usable GPU is present, else cpu "
       "(--device overrides it)"},
      {"gpu_backend", KEEL_FIELD(gpu_backend), {}, {"keel", "cudnn"}, hashed,
       "on cuda: keel's own kernels, or cuDNN for convolution and batch norm (a CUDA run with "
       "`cudnn` on a build without cuDNN stops before training, exit 2; CPU runs ignore the key)"},
      {"cpu_conv_algo", KEEL_FIELD(cpu_conv_algo), {}, {"auto", "im2col", "winograd"}, hashed,
       "on cpu, 3x3 stride-1 padding-1 convolutions: auto takes Winograd F(2x2, 3x3) where it "
       "pays, im2col or winograd forces one (results agree within float rounding)"},
      {"threads", KEEL_FIELD(threads), {closed(0, 1024)}, {}, unhashed,
       "CPU threads; 0 = all cores"},
      {"deterministic", KEEL_FIELD(deterministic), {}, {}, hashed,
       "on cuda: avoid atomics-based kernels so reruns give the same bits (slower)"},
      {"cuda_graph", KEEL_FIELD(cuda_graph), {}, {}, unhashed,
       "on cuda: capture the training step once as a CUDA graph and replay it (one launch per "
       "step instead of one per kernel; the same bits as launching each kernel)"},
      {"precision", KEEL_FIELD(precision), {}, {"fp32", "fp16", "bf16"}, hashed,
       "the format convolutions and linear layers read inputs, weights and gradients in, with "
       "float32 accumulation and float32 master weights; fp16 adds dynamic loss scaling. On the "
       "CPU an exact emulation (notes/mixed-precision.md); not yet on cuda"},

      {"data.dir", KEEL_FIELD(data.dir), {}, {}, unhashed,
       "folder with the Kaggle train.csv and test.csv (--data and KEEL_DATA_DIR override it)"},
      {"data.features", KEEL_FIELD(data.features), {}, {}, hashed,
       "ordered wrangled-table columns that become pixels; empty = the demo's 33 features in "
       "its ranked order"},
      {"data.rank_top_k", KEEL_FIELD(data.rank_top_k), {closed(0, 1000)}, {}, hashed,
       "> 0: rank the features by absolute logistic-regression coefficient on the training "
       "rows, keep k"},
      {"data.channels", KEEL_FIELD(data.channels), {closed(1, 1), closed(3, 3)}, {}, hashed,
       "image channels: 1 (black and white) or 3 (the same plane three times, as RGB PNGs)"},
      {"data.image_size", KEEL_FIELD(data.image_size), {closed(0, 1024)}, {}, hashed,
       "0: keep the square side S = ceil(sqrt(features)); else bilinear resize to this side"},
      {"data.imagenet_normalize", KEEL_FIELD(data.imagenet_normalize), {}, {}, hashed,
       "normalise pixels with the ImageNet mean and std per channel (the seed recipe)"},
      {"data.augment", KEEL_FIELD(data.augment), {}, {}, hashed,
       "apply the seed recipe's training augmentations (flip, rotate, zoom, warp, lighting)"},
      {"data.write_images", KEEL_FIELD(data.write_images), {}, {}, hashed,
       "also write every encoded image as a PNG into output.dir/images"},

      {"model.arch", KEEL_FIELD(model.arch), {}, {"layers", "resnet34", "resnet18"}, hashed,
       "layers: the model.layers list; resnet34 / resnet18: that body plus the model.head"},
      {"model.layers", KEEL_FIELD(model.layers), {}, {}, hashed,
       "the model as an ordered list of layers (see Layers below); only with arch: layers"},
      {"model.num_classes", KEEL_FIELD(model.num_classes), {closed(2, 1000)}, {}, hashed,
       "output classes; a layers model must end in a linear layer with this many outputs"},
      {"model.head", KEEL_FIELD(model.head), {}, {"fastai"}, hashed,
       "resnet head: fastai = concat pool, BN, dropout, linear, ReLU, BN, dropout, linear"},
      {"model.head_dropout1", KEEL_FIELD(model.head_dropout1), {upper_open(0, 1)}, {}, hashed,
       "resnet head: dropout before its first linear layer"},
      {"model.head_dropout2", KEEL_FIELD(model.head_dropout2), {upper_open(0, 1)}, {}, hashed,
       "resnet head: dropout before its last linear layer"},
      {"model.head_hidden", KEEL_FIELD(model.head_hidden), {closed(1, 65536)}, {}, hashed,
       "resnet head: width of its hidden linear layer"},
      {"model.pretrained", KEEL_FIELD(model.pretrained), {}, {}, hashed,
       "safetensors file the models start from (keel's, or torchvision's ResNet names): the "
       "body must fit, the head loads where names and shapes fit; none: random init"},

      {"optimizer.name", KEEL_FIELD(optimizer.name), {}, {"adamw", "sgd"}, hashed,
       "adamw (decoupled weight decay) or sgd (momentum, optional nesterov)"},
      {"optimizer.lr", KEEL_FIELD(optimizer.lr), {lower_open(0, 10)}, {}, hashed,
       "maximum learning rate of the head, and of every parameter for arch: layers"},
      {"optimizer.body_lr", KEEL_FIELD(optimizer.body_lr), {lower_open(0, 10)}, {}, hashed,
       "resnet: maximum learning rate of the body's parameter group"},
      {"optimizer.beta1", KEEL_FIELD(optimizer.beta1), {upper_open(0, 1)}, {}, hashed,
       "adamw: first-moment decay (replaced by schedule momentum cycling when that is on)"},
      {"optimizer.beta2", KEEL_FIELD(optimizer.beta2), {upper_open(0, 1)}, {}, hashed,
       "adamw: second-moment decay"},
      {"optimizer.eps", KEEL_FIELD(optimizer.eps), {lower_open(0, 1)}, {}, hashed,
       "adamw: added to the root of the second moment"},
      {"optimizer.weight_decay", KEEL_FIELD(optimizer.weight_decay), {closed(0, 10)}, {}, hashed,
       "weight decay (decoupled for adamw, L2 for sgd), also on batch-norm weights"},
      {"optimizer.momentum", KEEL_FIELD(optimizer.momentum), {upper_open(0, 1)}, {}, hashed,
       "sgd: momentum"},
      {"optimizer.nesterov", KEEL_FIELD(optimizer.nesterov), {}, {}, hashed,
       "sgd: Nesterov momentum"},

      {"schedule.name", KEEL_FIELD(schedule.name), {}, {"one_cycle", "cosine", "constant"}, hashed,
       "learning-rate schedule over all steps of a fit"},
      {"schedule.style", KEEL_FIELD(schedule.style), {}, {"fastai", "pytorch"}, hashed,
       "one_cycle flavour: fastai (v1, cosine both ways) or pytorch (torch OneCycleLR)"},
      {"schedule.pct_start", KEEL_FIELD(schedule.pct_start), {open(0, 1)}, {}, hashed,
       "one_cycle: fraction of the steps spent rising to the maximum learning rate"},
      {"schedule.div", KEEL_FIELD(schedule.div), {closed(1, 1e6)}, {}, hashed,
       "one_cycle: the starting learning rate is lr / div"},
      {"schedule.final_div", KEEL_FIELD(schedule.final_div), {closed(1, 1e12)}, {}, hashed,
       "one_cycle: the final learning rate is lr / (div * final_div)"},
      {"schedule.moms_max", KEEL_FIELD(schedule.moms_max), {upper_open(0, 1)}, {}, hashed,
       "one_cycle: beta1 (or sgd momentum) at the start and end of the cycle"},
      {"schedule.moms_min", KEEL_FIELD(schedule.moms_min), {upper_open(0, 1)}, {}, hashed,
       "one_cycle: beta1 at the learning-rate peak; equal to moms_max turns cycling off"},
      {"schedule.final_lr_fraction", KEEL_FIELD(schedule.final_lr_fraction), {closed(0, 1)}, {},
       hashed, "cosine: the final learning rate as a fraction of lr"},

      {"train.epochs", KEEL_FIELD(train.epochs), {closed(1, 100000)}, {}, hashed,
       "epochs of training (for resnet: after the frozen_epochs)"},
      {"train.frozen_epochs", KEEL_FIELD(train.frozen_epochs), {closed(0, 100000)}, {}, hashed,
       "resnet: epochs with the body frozen, as their own one-cycle fit, before `epochs`"},
      {"train.batch_size", KEEL_FIELD(train.batch_size), {closed(1, 65536)}, {}, hashed,
       "training images per step"},
      {"train.drop_last", KEEL_FIELD(train.drop_last), {}, {}, hashed,
       "drop the last partial training batch of each epoch"},
      {"train.val_fraction", KEEL_FIELD(train.val_fraction), {closed(0, 0.9)}, {}, hashed,
       "stratified hold-out fraction for validation; 0 = train on everything; ignored when "
       "folds > 1"},
      {"train.folds", KEEL_FIELD(train.folds), {closed(0, 0), closed(2, 20)}, {}, hashed,
       "> 1: stratified k-fold cross-validation (one model per fold); 0 = off"},
      {"train.repeats", KEEL_FIELD(train.repeats), {closed(1, 100)}, {}, hashed,
       "k-fold only: repeat the folds with a different shuffle each time (repeated k-fold)"},
      {"train.ensemble_seeds", KEEL_FIELD(train.ensemble_seeds), {}, {}, hashed,
       "two or more seeds: train one model per seed and average their probabilities"},
      {"train.best_metric", KEEL_FIELD(train.best_metric), {},
       {"val_loss", "val_accuracy", "last"}, hashed,
       "which epoch's weights are kept and predicted with: best by a metric, or the last"},
      {"train.patience", KEEL_FIELD(train.patience), {closed(0, 100000)}, {}, hashed,
       "early stopping after this many epochs without a better best_metric; 0 = off"},
      {"train.eval_batch_size", KEEL_FIELD(train.eval_batch_size), {closed(1, 65536)}, {}, hashed,
       "images per batch for validation and prediction"},
      {"train.grad_clip", KEEL_FIELD(train.grad_clip), {closed(0, 1e6)}, {}, hashed,
       "> 0: scale all gradients by grad_clip / (norm + 1e-6) when their global L2 norm is above "
       "it, before each update (PyTorch's clip_grad_norm_); 0 = off"},
      {"train.on_nonfinite", KEEL_FIELD(train.on_nonfinite), {}, {"stop", "skip_step"}, unhashed,
       "a non-finite loss or gradient: stop (exit 3, nothing written from the model) or "
       "skip_step (drop that step's update, count it in summary.json skipped_steps)"},
      {"train.loss_scale", KEEL_FIELD(train.loss_scale), {closed(1, 16777216)}, {}, hashed,
       "precision fp16: the loss scaler's initial scale (PyTorch's 65536); halved after a step "
       "whose gradients overflow (that step is skipped), doubled after "
       "loss_scale_growth_interval clean steps, kept within 1..2^24"},
      {"train.loss_scale_growth_interval", KEEL_FIELD(train.loss_scale_growth_interval),
       {closed(1, 1000000)}, {}, hashed,
       "precision fp16: clean steps in a row before the loss scale doubles (PyTorch's 2000)"},
      {"train.label_smoothing", KEEL_FIELD(train.label_smoothing), {upper_open(0, 1)}, {}, hashed,
       "training targets (1 - e) * one-hot + e / classes (fastai's LabelSmoothingCrossEntropy); "
       "0 = plain labels"},
      {"train.mixup", KEEL_FIELD(train.mixup), {closed(0, 10)}, {}, hashed,
       "> 0: mixup with weight lambda ~ Beta(mixup, mixup), folded to max(lambda, 1 - lambda): "
       "each batch blended with a shuffle of itself, images and targets alike; 0 = off"},
      {"train.stop_after_epochs", KEEL_FIELD(train.stop_after_epochs), {closed(0, 100000)}, {},
       unhashed,
       "> 0: stop after this many epochs of this run, with a checkpoint (to resume later); "
       "0 = off"},
      {"train.sync_batch_norm", KEEL_FIELD(train.sync_batch_norm), {}, {}, hashed,
       "data-parallel runs: batch-norm layers normalise with the statistics of the whole global "
       "batch (summed over the processes each step) instead of each process's share"},

      {"dist.mode", KEEL_FIELD(dist.mode), {}, {"auto", "data", "folds"}, unhashed,
       "under mpirun: data (every process takes a share of each batch of one model), folds "
       "(processes train whole models of the ensemble) or auto (folds when the run trains "
       "several models, else data); ignored by a single process"},

      {"output.dir", KEEL_FIELD(output.dir), {}, {}, unhashed,
       "folder for every output file (--out overrides it)"},
      {"output.report", KEEL_FIELD(output.report), {}, {}, hashed,
       "write report.html (charts, confusion matrix, top losses, the resolved config)"},
      {"output.checkpoints", KEEL_FIELD(output.checkpoints), {}, {}, hashed,
       "write checkpoints/last.ckpt after every epoch and checkpoints/best.ckpt when the best epoch "
       "improves (none with best_metric last); a stop always saves last"},
      {"output.probabilities", KEEL_FIELD(output.probabilities), {}, {}, hashed,
       "write probabilities.csv next to submission.csv"},

      {"predict.tta", KEEL_FIELD(predict.tta), {closed(0, 64)}, {}, hashed,
       "> 0: test-time augmentation, 0.4 x the plain prediction + 0.6 x the mean over this many "
       "augmented passes (fastai v1's TTA), for test and final validation predictions; needs "
       "data.augment"},

      {"evaluate.folds", KEEL_FIELD(evaluate.folds), {closed(2, 20)}, {}, unhashed,
       "--evaluate: outer stratified folds of the nested cross-validation"},
      {"evaluate.repeats", KEEL_FIELD(evaluate.repeats), {closed(1, 100)}, {}, unhashed,
       "--evaluate: outer repeats, each with its own shuffle"},
      {"evaluate.candidates", KEEL_FIELD(evaluate.candidates), {}, {}, unhashed,
       "--evaluate: alternatives the inner loop chooses between by the recipe's own "
       "cross-validation on the outer training rows, each `key=value; key=value` overrides; "
       "empty = the recipe as it is"},
  };
  // clang-format on
}

#undef KEEL_FIELD

std::vector<LayerTypeSpec> build_layer_specs() {
  const auto pool_args = [](const std::string& what) {
    return std::vector<LayerArgSpec>{
        {"kernel", ArgKind::integer, 2, "", closed(1, 15), "window side"},
        {"stride", ArgKind::integer, std::nullopt, "kernel", closed(1, 15),
         "step between windows; defaults to kernel"},
        {"padding", ArgKind::integer, 0, "", closed(0, 7), what + "; at most kernel / 2"},
    };
  };
  const auto adaptive = [](const std::string& how) {
    return std::vector<LayerArgSpec>{
        {"size", ArgKind::integer, 1, "", closed(1, 64), "output side (" + how + ")"}};
  };
  // clang-format off
  return {
      {"conv2d",
       {{"out", ArgKind::integer, std::nullopt, "", closed(1, 65536), "output channels (required)"},
        {"kernel", ArgKind::integer, 3, "", closed(1, 15), "kernel side"},
        {"stride", ArgKind::integer, 1, "", closed(1, 8), "stride"},
        {"padding", ArgKind::integer, 0, "", closed(0, 7), "zero padding on each side"},
        {"bias", ArgKind::flag, 1, "", closed(0, 1), "learn a bias (true/false or 1/0)"}},
       "2-D convolution; input channels are inferred"},
      {"batch_norm",
       {{"eps", ArgKind::real, 1e-5, "", lower_open(0, 1), "added to the variance"},
        {"momentum", ArgKind::real, 0.1, "", closed(0, 1),
         "weight of the new batch in the running statistics"}},
       "batch normalisation over channels (or features after flatten)"},
      {"relu", {}, "rectified linear unit"},
      {"max_pool", pool_args("padding with -infinity"), "max pooling"},
      {"avg_pool", pool_args("zero padding, counted in the average"), "average pooling"},
      {"adaptive_avg_pool", adaptive("average"), "average pooling to a fixed output side"},
      {"adaptive_max_pool", adaptive("max"), "max pooling to a fixed output side"},
      {"adaptive_concat_pool", adaptive("max then average, channels doubled"),
       "adaptive max and average pooling concatenated on channels (fastai's head)"},
      {"flatten", {}, "(N, C, H, W) -> (N, C*H*W)"},
      {"dropout", {{"p", ArgKind::real, 0.5, "", upper_open(0, 1), "drop probability"}},
       "dropout while training"},
      {"linear",
       {{"out", ArgKind::integer, std::nullopt, "", closed(1, 65536),
         "output features (required)"}},
       "fully connected layer; input features are inferred"},
  };
  // clang-format on
}

}  // namespace

const std::vector<KeySpec>& key_specs() {
  static const std::vector<KeySpec> specs = build_key_specs();
  return specs;
}

const KeySpec* find_key(const std::string& dotted) {
  for (const KeySpec& spec : key_specs())
    if (spec.key == dotted) return &spec;
  return nullptr;
}

const std::vector<std::string>& section_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const KeySpec& spec : key_specs()) {
      const auto dot = spec.key.find('.');
      if (dot == std::string::npos) continue;
      std::string section = spec.key.substr(0, dot);
      if (std::find(out.begin(), out.end(), section) == out.end()) out.push_back(section);
    }
    return out;
  }();
  return names;
}

const std::vector<LayerTypeSpec>& layer_specs() {
  static const std::vector<LayerTypeSpec> specs = build_layer_specs();
  return specs;
}

const LayerTypeSpec* find_layer(const std::string& type) {
  for (const LayerTypeSpec& spec : layer_specs())
    if (spec.type == type) return &spec;
  return nullptr;
}

std::string type_name(const KeySpec& spec) {
  Config probe;
  return std::visit(
      [&](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, int>) return "integer";
        if constexpr (std::is_same_v<T, uint64_t>) return "integer";
        if constexpr (std::is_same_v<T, double>) return "number";
        if constexpr (std::is_same_v<T, bool>) return "boolean";
        if constexpr (std::is_same_v<T, std::string>)
          return spec.choices.empty() ? "string" : "choice";
        if constexpr (std::is_same_v<T, std::vector<std::string>>) return "list of strings";
        if constexpr (std::is_same_v<T, std::vector<uint64_t>>) return "list of integers";
        if constexpr (std::is_same_v<T, std::vector<LayerSpec>>) return "list of layers";
      },
      spec.field(probe));
}

std::string format_number(double v, bool integer) {
  if (integer) return fmt::format("{}", static_cast<long long>(v));
  // fmt's shortest round-trip form, so a value written out reads back to the same double.
  return fmt::format("{}", v);
}

std::string interval_text(const std::vector<Interval>& ranges, bool integer) {
  std::vector<std::string> parts;
  for (const Interval& r : ranges) {
    if (integer && r.lo == r.hi) {
      parts.push_back(format_number(r.lo, true));
    } else if (integer) {
      parts.push_back(format_number(r.lo, true) + ".." + format_number(r.hi, true));
    } else {
      parts.push_back(fmt::format("{}{}, {}{}", r.lo_open ? "(" : "[", format_number(r.lo, false),
                                  format_number(r.hi, false), r.hi_open ? ")" : "]"));
    }
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += (i + 1 == parts.size()) ? " or " : ", ";
    out += parts[i];
  }
  return out;
}

std::string range_text(const KeySpec& spec) {
  Config probe;
  return std::visit(
      [&](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, int>) return interval_text(spec.ranges, true);
        if constexpr (std::is_same_v<T, uint64_t>) return "0..18446744073709551615";
        if constexpr (std::is_same_v<T, double>) return interval_text(spec.ranges, false);
        if constexpr (std::is_same_v<T, bool>) return "true, false";
        if constexpr (std::is_same_v<T, std::string>) {
          if (spec.choices.empty()) return "non-empty";
          std::string out;
          for (const std::string& c : spec.choices) out += (out.empty() ? "" : ", ") + c;
          return out;
        }
        if constexpr (std::is_same_v<T, std::vector<std::string>>) return "unique non-empty names";
        if constexpr (std::is_same_v<T, std::vector<uint64_t>>) return "unique, each 0..2^64-1";
        if constexpr (std::is_same_v<T, std::vector<LayerSpec>>) return "see Layers";
      },
      spec.field(probe));
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  // Levenshtein distance over lower-cased characters, one row at a time.
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  // A typo changes a character or two; allow a bit more for long names, but never so much that
  // an unrelated short key is "suggested".
  const size_t budget = word.size() <= 3 ? 1 : (word.size() <= 9 ? 2 : 3);
  std::string best;
  size_t best_distance = budget + 1;
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

}  // namespace keel::config_detail
