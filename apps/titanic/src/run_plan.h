// Internal pieces of run_titanic: the prepared data, the plan of models to train (hold-out, k-fold
// or seed ensemble) and the results accumulated over them, which checkpoints carry between runs.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "keel/tensor.h"
#include "keel/train/checkpoint.h"
#include "titanic/config.h"
#include "titanic/features.h"
#include "titanic/fold_features.h"
#include "titanic/outputs.h"
#include "titanic/selection.h"

namespace keel::train::detail {

struct PreparedData {
  std::shared_ptr<const data::FeatureSource> source;  // tables, group keys, labels
  data::FeatureSelection selection;
  // The selection reads labels (a ranking, group survival columns): each model then gets the
  // features fitted on its own training rows (member_images), and the images below, fitted on
  // every labelled row, serve only the report.
  bool per_member_features = false;
  std::vector<std::string> features;
  Tensor train_images;  // (N, C, S, S) on the CPU, values 0 or 1
  std::vector<int> labels;
  Tensor test_images;  // (T, C, S, S)
  std::vector<int> test_ids;
  int64_t side = 0;
};

PreparedData prepare_data(const Config& config, const std::function<void(const std::string&)>& log);
data::FeatureSelection feature_selection(const DataConfig& data);

// One model to train: its rows, its validation rows (may be empty) and its seed.
struct Member {
  int index = 0;
  int fold = 0;  // fold number under k-fold (0 otherwise), for the records
  std::vector<int64_t> train_rows;
  std::vector<int64_t> valid_rows;
  uint64_t seed = 0;
};
std::vector<Member> plan_members(const Config& config, const std::vector<int>& labels);
// The images a member trains, validates and predicts on: the shared ones, or (per_member_features)
// those fitted on member.train_rows, the test rows' group columns from every labelled row.
data::FoldImages member_images(const PreparedData& data, const Config& config,
                               const Member& member);
std::string describe_plan(const Config& config, const std::vector<Member>& members);

// Everything later models and the outputs need from earlier ones.
struct Results {
  int members_done = 0;
  Tensor test_prob_sum;  // (T, K): summed over finished members
  Tensor val_prob_sum;   // (N, K): summed over the members that validated each row
  Tensor val_count;      // (N)
  // The image each validated row had in the first model that held it out (the features fitted on
  // that model's training rows), for the report; val_image_set says which rows have one. Both
  // undefined until a model validates (and in checkpoints written before they existed).
  Tensor val_images;     // (N, C, S, S)
  Tensor val_image_set;  // (N), 1 where val_images holds the row's image
  std::vector<double> member_accuracies;
  std::vector<EpochRecord> records;  // of finished members
  int64_t steps = 0;
  int64_t skipped_steps = 0;             // of finished members (train.on_nonfinite: skip_step)
  int64_t loss_scale_skipped_steps = 0;  // of finished members (precision: fp16)
  double last_loss_scale = NAN;          // the last finished member's final loss scale (fp16)
  double train_seconds = 0.0;
  int last_best_epoch = 0;
  int graph_captures = 0;  // CUDA-graph captures of the training step in this session (not saved)
  int64_t graph_replays = 0;  // steps replayed from those captures (not saved)

  void save(Checkpoint& c) const;
  void load(const Checkpoint& c);
};
Results empty_results(int64_t train_rows, int64_t test_rows, int64_t classes);

uint64_t member_seed(uint64_t run_seed, int member);

}  // namespace keel::train::detail
