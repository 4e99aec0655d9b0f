// Data preparation and the training plan of run_titanic: features -> images, the hold-out, k-fold
// or ensemble members, and the checkpointable results accumulated over members.
#include "run_plan.h"

#include <cmath>

#include <fmt/format.h>

#include "keel/data/split.h"
#include "keel/data/square_image.h"
#include "keel/error.h"
#include "titanic/model_builder.h"

namespace keel::train::detail {

data::FeatureSelection feature_selection(const DataConfig& data) {
  data::FeatureSelection selection;
  if (data.rank_top_k > 0) {
    selection = data::FeatureSelection::ranked(data.rank_top_k);
    selection.candidates = data.features;  // rank among the listed columns, if any
  } else if (!data.features.empty()) {
    selection = data::FeatureSelection::from_list(data.features);
  }
  return selection;
}

PreparedData prepare_data(const Config& config,
                          const std::function<void(const std::string&)>& log) {
  PreparedData d;
  data::TitanicTables tables = data::load_titanic(config.data.dir);
  for (const std::string& note : tables.notes) log(note);
  for (double id : tables.test.column("passengerid")) d.test_ids.push_back(static_cast<int>(id));
  d.source = std::make_shared<const data::FeatureSource>(std::move(tables));
  d.selection = feature_selection(config.data);
  d.per_member_features = d.source->label_dependent(d.selection);
  const std::vector<int64_t> all = d.source->all_train_rows();
  data::FoldImages images =
      data::fold_images(*d.source, d.selection, config.data.channels, all, all);
  if (d.selection.method == data::FeatureSelection::Method::logistic_ranking) {
    log(data::format_ranking(images.ranking, config.data.rank_top_k) +
        "(fitted on every train row, for this log; each model ranks on its own training rows)");
  }
  d.features = std::move(images.features);
  d.train_images = std::move(images.train_images);
  d.test_images = std::move(images.test_images);
  d.labels = d.source->labels();
  d.side = d.train_images.dim(2);
  log(
      fmt::format("data: {} train and {} test passengers, {} features as {}x{} images with {} "
                  "channel(s){}",
                  d.train_images.dim(0), d.test_images.dim(0), d.features.size(), d.side, d.side,
                  config.data.channels,
                  d.per_member_features ? "; label-dependent features fitted inside each model's "
                                          "training rows"
                                        : ""));
  // Before any device or model work, so a layer list that does not fit these images fails now.
  check_model_shapes(config, d.train_images.dim(1), d.side);
  return d;
}

data::FoldImages member_images(const PreparedData& data, const Config& config,
                               const Member& member) {
  if (!data.per_member_features) {
    data::FoldImages shared;
    shared.features = data.features;
    shared.train_images = data.train_images;
    shared.test_images = data.test_images;
    return shared;
  }
  return data::fold_images(*data.source, data.selection, config.data.channels, member.train_rows,
                           data.source->all_train_rows());
}

uint64_t member_seed(uint64_t run_seed, int member) {
  return run_seed + 1000003ull * static_cast<uint64_t>(member);
}

std::vector<Member> plan_members(const Config& config, const std::vector<int>& labels) {
  std::vector<Member> members;
  const TrainConfig& t = config.train;
  if (t.folds > 1) {
    const std::vector<data::Split> splits =
        data::repeated_stratified_kfold(labels, t.folds, t.repeats, config.seed);
    for (size_t i = 0; i < splits.size(); ++i) {
      const int index = static_cast<int>(i);
      members.push_back({index, index % t.folds + 1, splits[i].train, splits[i].valid,
                         member_seed(config.seed, index)});
    }
    return members;
  }
  data::Split split;
  if (t.val_fraction > 0) {
    split = data::stratified_split(labels, t.val_fraction, config.seed);
  } else {
    for (int64_t i = 0; i < static_cast<int64_t>(labels.size()); ++i) split.train.push_back(i);
  }
  std::vector<uint64_t> seeds = t.ensemble_seeds;
  if (seeds.empty()) seeds.push_back(config.seed);
  for (size_t i = 0; i < seeds.size(); ++i) {
    members.push_back({static_cast<int>(i), 0, split.train, split.valid, seeds[i]});
  }
  return members;
}

std::string describe_plan(const Config& config, const std::vector<Member>& members) {
  const TrainConfig& t = config.train;
  if (t.folds > 1) {
    return fmt::format(
        "plan: stratified {}-fold cross-validation x {} repeat(s) = {} models, test "
        "predictions averaged",
        t.folds, t.repeats, members.size());
  }
  return fmt::format("plan: {} model(s) on {} rows, {} validation rows{}", members.size(),
                     members.front().train_rows.size(), members.front().valid_rows.size(),
                     members.size() > 1 ? ", test predictions averaged over seeds" : "");
}

Results empty_results(int64_t train_rows, int64_t test_rows, int64_t classes) {
  Results r;
  r.test_prob_sum = Tensor::zeros({test_rows, classes});
  r.val_prob_sum = Tensor::zeros({train_rows, classes});
  r.val_count = Tensor::zeros({train_rows});
  return r;
}

void Results::save(Checkpoint& c) const {
  c.ints["run.members_done"] = members_done;
  c.ints["run.steps"] = steps;
  c.ints["run.skipped_steps"] = skipped_steps;
  c.ints["run.loss_scale_skipped_steps"] = loss_scale_skipped_steps;
  if (!std::isnan(last_loss_scale)) c.reals["run.last_loss_scale"] = last_loss_scale;
  c.ints["run.last_best_epoch"] = last_best_epoch;
  c.reals["run.train_seconds"] = train_seconds;
  // Copies: the sums keep growing while a checkpoint may still be written in the background.
  c.tensors["run.test_prob_sum"] = test_prob_sum.clone();
  c.tensors["run.val_prob_sum"] = val_prob_sum.clone();
  c.tensors["run.val_count"] = val_count.clone();
  if (val_images.defined()) {
    c.tensors["run.val_images"] = val_images.clone();
    c.tensors["run.val_image_set"] = val_image_set.clone();
  }
  c.texts["run.member_accuracies"] = encode_numbers(member_accuracies);
  c.texts["run.records"] = encode_records(records);
}

void Results::load(const Checkpoint& c) {
  members_done = static_cast<int>(c.int_at("run.members_done"));
  steps = c.int_at("run.steps");
  // Absent from checkpoints written before train.on_nonfinite existed: nothing was skipped then.
  skipped_steps = c.ints.count("run.skipped_steps") ? c.int_at("run.skipped_steps") : 0;
  // Absent from checkpoints written before precision existed: fp32, nothing scaled.
  loss_scale_skipped_steps =
      c.ints.count("run.loss_scale_skipped_steps") ? c.int_at("run.loss_scale_skipped_steps") : 0;
  last_loss_scale = c.reals.count("run.last_loss_scale") ? c.real_at("run.last_loss_scale") : NAN;
  last_best_epoch = static_cast<int>(c.int_at("run.last_best_epoch"));
  train_seconds = c.real_at("run.train_seconds");
  restore_tensor(c, "run.test_prob_sum", test_prob_sum);
  restore_tensor(c, "run.val_prob_sum", val_prob_sum);
  restore_tensor(c, "run.val_count", val_count);
  if (c.tensors.count("run.val_images") && c.tensors.count("run.val_image_set")) {
    val_images = c.tensor_at("run.val_images").clone();
    val_image_set = c.tensor_at("run.val_image_set").clone();
    expect_shape(val_image_set, Shape{val_count.dim(0)}, "run.val_image_set");
    if (val_images.ndim() != 4 || val_images.dim(0) != val_count.dim(0)) {
      throw Error(ErrorKind::checkpoint,
                  fmt::format("checkpoint {}: run.val_images has shape {}, expected ({}, C, S, S)",
                              c.source, val_images.shape().str(), val_count.dim(0)));
    }
  }
  member_accuracies = decode_numbers(c.text_at("run.member_accuracies"));
  records = decode_records(c.text_at("run.records"));
}

}  // namespace keel::train::detail
