// The learning-rate range test (fastai's lr_find): train a fresh model for a few hundred steps
// while the learning rate grows exponentially, record the smoothed loss, stop once it explodes,
// and suggest the learning rate where the loss fell fastest.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/nn/sequential.h"
#include "keel/train/trainer.h"

namespace keel::train {

struct LrFindOptions {
  double start_lr = 1e-7;
  double end_lr = 10.0;
  int steps = 200;           // fastai's num_it is 100; more points give a smoother curve
  double smoothing = 0.98;   // exponential moving average of the loss, debiased
  double stop_factor = 4.0;  // stop when the smoothed loss exceeds this times its minimum
};

struct LrFindResult {
  std::vector<double> lrs;     // per step
  std::vector<double> losses;  // smoothed (debiased) loss per step
  double suggested_lr = 0.0;   // steepest descent of the smoothed loss against log lr
  double min_loss_lr = 0.0;    // where the smoothed loss was lowest
  bool stopped_early = false;  // the loss exploded before the last step
};

// step k of `steps` uses start_lr * (end_lr / start_lr)^(k / (steps - 1)); batches are drawn from
// `train` in a seeded shuffled order, cycling over epochs, through `trainer.input`'s pipeline. The
// optimizer is `trainer.optimizer` (AdamW or SGD, its betas / momentum and weight decay), in
// batches of `trainer.train.batch_size`; the model is trained in place.
LrFindResult lr_find(const TrainerOptions& trainer, nn::Sequential& model,
                     const LabelledImages& train, Device device, uint64_t seed,
                     const LrFindOptions& options = {});

// The index of the steepest fall of `losses` against log(lr), by central differences, ignoring
// the first and last tenth of the points (the noisy start, the explosion); -1 with fewer than 5.
int steepest_descent(const std::vector<double>& lrs, const std::vector<double>& losses);

// The loss curve as an SVG chart (log-scale lr axis, the suggestion marked).
std::string lr_find_svg(const LrFindResult& result);

}  // namespace keel::train
