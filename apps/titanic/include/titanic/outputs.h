// The files a training run leaves in --out: submission.csv, probabilities.csv, metrics.csv and
// summary.json. Each is written atomically, so an interrupted run never leaves half a file.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "keel/train/epoch_record.h"

namespace keel::train {

// Everything summary.json records about a run. Doubles left NaN are written as null.
struct RunSummary {
  std::string device;   // "cpu" or e.g. "cuda:0 (NVIDIA H100 80GB HBM3)"
  std::string cpu_isa;  // the CPU kernels' instruction-set path: "avx512", "avx2" or "portable"
  std::string keel_version;
  std::string git_commit;
  std::string config_path;
  uint64_t seed = 0;
  int epochs = 0;     // epochs per model
  int64_t steps = 0;  // optimizer steps over all models
  double train_seconds = kNoValue;
  double ms_per_step = kNoValue;
  int graph_captures = 0;  // captures of the training step as a CUDA graph (config key cuda_graph)
  int64_t graph_replays = 0;       // steps performed by replaying those captures
  int64_t skipped_steps = 0;       // updates dropped for a non-finite loss or gradient (skip_step)
  std::string precision = "fp32";  // the config key precision
  int64_t loss_scale_skipped_steps = 0;  // precision fp16: steps whose gradients overflowed
  double loss_scale = kNoValue;          // precision fp16: the last model's final loss scale
  double val_accuracy = kNoValue;        // of the kept (best) epoch; the fold mean under k-fold
  double val_loss = kNoValue;
  bool has_cv = false;  // k-fold ran: the cv_* fields below are meaningful
  double cv_mean = kNoValue;
  double cv_std = kNoValue;
  int cv_folds = 0;
  std::vector<double> fold_accuracies;
  // What kind of estimate cv_mean is, in words (not nested: --evaluate gives the nested one).
  std::string cv_estimate;
  int best_epoch = 0;  // 0 when no epoch was selected (no validation set)
  std::string best_metric;
  int64_t parameters = 0;         // trainable parameter count
  std::string pretrained;         // model.pretrained: the weight file the models started from
  std::string pretrained_sha256;  // and its SHA-256 (empty without one)
  int64_t train_rows = 0;
  int64_t val_rows = 0;
  int64_t test_rows = 0;
  int ensemble_members = 1;  // models whose predictions were averaged for the submission
  // Simple baselines on the same validation rows, each fitted on the same training rows as the
  // CNN's models: the gender rule and an L2 logistic regression on the config's features. Mean
  // and (population) std over the models with validation rows; has_baselines false without any.
  bool has_baselines = false;
  double gender_rule_mean = kNoValue, gender_rule_std = kNoValue;
  double logistic_mean = kNoValue, logistic_std = kNoValue;
};

// `PassengerId,Survived`, one row per passenger in the given order; labels must be 0 or 1.
void write_submission(const std::string& path, const std::vector<int>& passenger_ids,
                      const std::vector<int>& labels);

// `PassengerId,Survived_probability`: P(survived) per passenger, 6 decimals.
void write_probabilities(const std::string& path, const std::vector<int>& passenger_ids,
                         const std::vector<double>& prob_survived);

// `epoch,fold,train_loss,val_loss,val_accuracy,val_error_rate,lr,beta1,seconds`, one row per
// record; NaN values are left empty so spreadsheet and pandas readers see missing data.
void write_metrics_csv(const std::string& path, const std::vector<EpochRecord>& records);

// summary.json as text (pretty-printed) and written atomically to `path`.
std::string summary_json(const RunSummary& summary);
void write_summary_json(const std::string& path, const RunSummary& summary);

}  // namespace keel::train
