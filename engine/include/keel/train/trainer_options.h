// What keel::train::Trainer needs to know: the optimizer, the learning-rate schedule, the loop's
// own settings and the input pipeline. A program fills these in directly; a job that reads them
// from a config file can give its sections the same names (as the app in apps/ does), so that a
// message naming `train.batch_size` or `optimizer.lr` also names the user's key.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "keel/nn/module.h"
#include "keel/optim/optimizer.h"
#include "keel/optim/schedule.h"

namespace keel::train {

struct OptimizerOptions {
  std::string name = "adamw";  // adamw | sgd
  double lr = 3e-3;            // max LR of the last parameter group (the head), or of all
  double body_lr = 3e-4;       // max LR of every other group (a resnet body)
  double beta1 = 0.9, beta2 = 0.99, eps = 1e-5;
  double weight_decay = 0.01;
  double momentum = 0.9;  // sgd
  bool nesterov = false;  // sgd
};

struct ScheduleOptions {
  std::string name = "one_cycle";  // one_cycle | cosine | constant
  std::string style = "fastai";    // one_cycle: fastai (fastai v1) | pytorch (OneCycleLR)
  double pct_start = 0.3;
  double div = 25.0;
  double final_div = 1e4;
  double moms_max = 0.95, moms_min = 0.85;  // beta1 cycling; equal values turn it off
  double final_lr_fraction = 0.0;           // cosine: final LR as a fraction of lr
};

// The training loop itself.
struct LoopOptions {
  int epochs = 30;
  int frozen_epochs = 0;  // epochs with every group but the last frozen, before `epochs`
  int batch_size = 64;
  bool drop_last = true;
  std::string best_metric = "val_loss";  // val_loss | val_accuracy | last
  int patience = 0;                      // early stopping; 0 = off
  int eval_batch_size = 256;
  double grad_clip = 0.0;                 // > 0: clip the global gradient L2 norm to this
  std::string on_nonfinite = "stop";      // stop | skip_step: a non-finite loss or gradient
  double loss_scale = 65536.0;            // precision fp16: the loss scaler's initial scale
  int loss_scale_growth_interval = 2000;  // precision fp16: clean steps before the scale doubles
  double label_smoothing = 0.0;           // epsilon of the smoothed targets; 0 = plain labels
  double mixup = 0.0;                     // alpha of mixup's Beta(alpha, alpha); 0 = off
  int stop_after_epochs = 0;     // > 0: stop, with a checkpoint, after this many epochs of the run
  bool sync_batch_norm = false;  // data-parallel: batch statistics over the global batch
};

// How raw square images become the model's input (InputPipeline).
struct InputOptions {
  int image_size = 0;               // 0: the raw side itself; else bilinear resize to this side
  bool imagenet_normalize = false;  // three channels normalised with ImageNet's mean and std
  bool augment = false;             // fastai v1's training augmentations (keel/data/transforms.h)
};

struct TrainerOptions {
  std::string source = "the trainer options";  // names them in messages (a config file's path)
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  LoopOptions train;
  InputOptions input;
  int num_classes = 2;
  std::string precision = "fp32";  // fp32 | fp16 | bf16: the GEMM and convolution operands
  bool cuda_graph = false;         // on cuda: replay the training step as a CUDA graph
  int tta = 0;  // > 0 (with input.augment): test-time augmentation passes of predict_final
};

// Throws keel::Error(config) naming the field of `options` that is out of range or not one of its
// choices: Trainer's constructor calls it, so a program that fills the options in by hand gets
// the same refusal a config file would.
void validate(const TrainerOptions& options);

// The maximum learning rate of each of `groups` parameter groups: `body_lr` for all but the last.
std::vector<double> group_lrs(const OptimizerOptions& options, int groups);
// AdamW or SGD over `params`, with group_lrs of their groups.
std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerOptions& options,
                                                 std::vector<nn::Parameter*> params);
// The schedule over `total_steps` that reaches `max_lrs` (one per group).
std::unique_ptr<optim::Schedule> make_schedule(const ScheduleOptions& options,
                                               std::vector<double> max_lrs, int64_t total_steps);

}  // namespace keel::train
