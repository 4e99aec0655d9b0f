// Results of a finished run_titanic: validation analysis (accuracy, confusion matrix, top losses),
// then every output file, each written atomically.
#include "run_outputs.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <sstream>

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/runtime.h"
#include "keel/version.h"
#include "titanic/pretrained.h"
#include "titanic/report.h"
#include "train/class_scores.h"

namespace keel::train::detail {

namespace {

std::string out_file(const RunOptions& options, const char* name) {
  return (std::filesystem::path(options.out_dir) / name).string();
}

// Averaged validation probabilities of every validated row (out-of-fold under k-fold).
struct Validation {
  std::vector<int64_t> rows;
  std::vector<std::vector<double>> probs;
  int64_t correct = 0;
  int64_t confusion[2][2] = {{0, 0}, {0, 0}};
  double loss_sum = 0.0;
  double accuracy() const {
    return rows.empty() ? NAN : static_cast<double>(correct) / rows.size();
  }
  double loss() const { return rows.empty() ? NAN : loss_sum / static_cast<double>(rows.size()); }
};

int argmax(const std::vector<double>& p) {
  return static_cast<int>(predicted_class(p.data(), static_cast<int64_t>(p.size())));
}

Validation analyse_validation(const PreparedData& data, const Results& results) {
  Validation v;
  const std::vector<float> sums = results.val_prob_sum.to_vector();
  const std::vector<float> counts = results.val_count.to_vector();
  const int64_t k = results.val_prob_sum.dim(1);
  for (size_t row = 0; row < counts.size(); ++row) {
    if (counts[row] == 0) continue;
    std::vector<double> p(static_cast<size_t>(k));
    for (int64_t c = 0; c < k; ++c) p[static_cast<size_t>(c)] = sums[row * k + c] / counts[row];
    const int label = data.labels[row], predicted = argmax(p);
    v.correct += predicted == label;
    v.loss_sum += row_log_loss(p[static_cast<size_t>(label)]);
    if (label < 2 && predicted < 2) ++v.confusion[label][predicted];
    v.rows.push_back(static_cast<int64_t>(row));
    v.probs.push_back(std::move(p));
  }
  return v;
}

bool seen_by_model(const Results& results, int64_t row) {
  return results.val_image_set.defined() && results.val_image_set.data()[row] != 0.0f;
}

// The rows with the highest loss, each shown as the first model that held it out saw it.
std::vector<TopLossImage> top_losses(const PreparedData& data, const Results& results,
                                     const Validation& v, size_t count) {
  std::vector<size_t> order(v.rows.size());
  std::iota(order.begin(), order.end(), 0);
  auto loss = [&](size_t i) {
    return row_log_loss(v.probs[i][static_cast<size_t>(data.labels[v.rows[i]])]);
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return loss(a) > loss(b); });
  std::vector<TopLossImage> out;
  for (size_t j = 0; j < std::min(count, order.size()); ++j) {
    const size_t i = order[j];
    const int64_t row = v.rows[i];
    const Tensor& images = seen_by_model(results, row) ? results.val_images : data.train_images;
    TopLossImage img;
    img.pixels = images.rows(row, row + 1).to_vector();
    img.channels = static_cast<int>(images.dim(1));
    img.height = static_cast<int>(images.dim(2));
    img.width = static_cast<int>(images.dim(3));
    img.row = static_cast<int>(row);
    img.label = data.labels[static_cast<size_t>(row)];
    img.predicted = argmax(v.probs[i]);
    img.prob_true = v.probs[i][static_cast<size_t>(img.label)];
    img.loss = loss(i);
    out.push_back(std::move(img));
  }
  return out;
}

void mean_and_std(const std::vector<double>& values, double& mean, double& stddev) {
  mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double var = 0.0;
  for (double v : values) var += (v - mean) * (v - mean);
  stddev =
      std::sqrt(var / static_cast<double>(values.size()));  // population std, as numpy's default
}

RunSummary make_summary(const Config& config, const PreparedData& data, const Results& results,
                        const Validation& v, int64_t parameter_count, const std::string& device) {
  RunSummary s;
  s.device = device;
  s.cpu_isa = cpu_isa_name(cpu_isa());
  s.keel_version = keel::version();
  s.git_commit = keel::git_commit();
  s.config_path = config.source;
  if (config.model.pretrained != "none") {
    s.pretrained = config.model.pretrained;
    s.pretrained_sha256 = pretrained_sha256(s.pretrained);
  }
  s.seed = config.seed;
  s.epochs = config.train.frozen_epochs + config.train.epochs;
  s.steps = results.steps;
  s.train_seconds = results.train_seconds;
  s.graph_captures = results.graph_captures;
  s.graph_replays = results.graph_replays;
  s.skipped_steps = results.skipped_steps;
  s.precision = config.precision;
  s.loss_scale_skipped_steps = results.loss_scale_skipped_steps;
  s.loss_scale = results.last_loss_scale;
  s.ms_per_step =
      results.steps > 0 ? 1e3 * results.train_seconds / static_cast<double>(results.steps) : NAN;
  s.val_accuracy = v.accuracy();
  s.val_loss = v.loss();
  s.best_epoch = results.last_best_epoch;
  s.best_metric = config.train.best_metric;
  s.parameters = parameter_count;
  s.train_rows = data.train_images.dim(0);
  s.val_rows = static_cast<int64_t>(v.rows.size());
  s.test_rows = data.test_images.dim(0);
  s.ensemble_members = results.members_done;
  if (config.train.folds > 1 && !results.member_accuracies.empty()) {
    s.has_cv = true;
    s.cv_folds = config.train.folds;
    s.fold_accuracies = results.member_accuracies;
    mean_and_std(results.member_accuracies, s.cv_mean, s.cv_std);
    s.cv_estimate =
        "not nested: each fold model scored on its own held-out fold, with the feature ranking "
        "and group survival columns fitted inside the fold, but the config's own choices "
        "(feature list, epochs, model) were made outside these folds; titanic_train --evaluate "
        "gives the nested estimate";
    s.val_accuracy = s.cv_mean;
  }
  return s;
}

// Which feature values the report's images show, where they can differ from model to model.
std::string top_losses_note(const Config& config, const PreparedData& data, const Results& results,
                            const std::vector<TopLossImage>& shown) {
  if (!data.per_member_features) return "";
  bool all_seen = true;
  for (const TopLossImage& image : shown) all_seen = all_seen && seen_by_model(results, image.row);
  std::string note =
      "Each image is the one the model that held the row out was given: its label-dependent "
      "features (group survival columns, a ranking) fitted on that model's training rows only";
  if (config.train.repeats > 1) {
    note += fmt::format(
        "; the first of the {} repeats' images, while the probability is the mean "
        "over every model that held the row out",
        config.train.repeats);
  }
  if (!all_seen) {
    note =
        "Some of these images have their label-dependent features fitted on every train row (the "
        "checkpoint this run resumed from did not record the images its models saw), so "
        "they may differ from what the models were given";
  }
  return note + ".";
}

void add_baselines(RunSummary& s, const BaselineScores& baselines) {
  if (baselines.gender_rule.empty()) return;
  s.has_baselines = true;
  mean_and_std(baselines.gender_rule, s.gender_rule_mean, s.gender_rule_std);
  mean_and_std(baselines.logistic, s.logistic_mean, s.logistic_std);
}

std::vector<std::string> split_lines(const std::vector<std::string>& blocks) {
  std::vector<std::string> lines;
  for (const std::string& block : blocks) {
    std::istringstream in(block);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  return lines;
}

}  // namespace

void write_submission_files(const Config& config, const RunOptions& options,
                            const PreparedData& data, const Results& results) {
  const std::vector<float> sums = results.test_prob_sum.to_vector();
  const int64_t k = results.test_prob_sum.dim(1);
  std::vector<int> labels;
  std::vector<double> survived;
  for (size_t i = 0; i < data.test_ids.size(); ++i) {
    std::vector<double> p(sums.begin() + static_cast<int64_t>(i) * k,
                          sums.begin() + static_cast<int64_t>(i + 1) * k);
    labels.push_back(argmax(p));
    survived.push_back(p[1] / std::accumulate(p.begin(), p.end(), 0.0));
    // The last line of defence: training stops on non-finite values, but a checkpoint given to
    // --predict may still hold such weights, and a NaN would become a silent "did not survive".
    if (!std::isfinite(survived.back())) {
      throw Error(
          ErrorKind::runtime,
          fmt::format("the predicted survival probability of passenger {} is not a number ({}): "
                      "the model's weights are not finite, so no submission.csv or "
                      "probabilities.csv was written (an earlier one in {} is untouched). "
                      "Retrain with a lower optimizer.lr or with train.grad_clip set.",
                      data.test_ids[i], survived.back(), options.out_dir));
    }
  }
  write_submission(out_file(options, "submission.csv"), data.test_ids, labels);
  if (config.output.probabilities)
    write_probabilities(out_file(options, "probabilities.csv"), data.test_ids, survived);
}

RunResult write_outputs(const Config& config, const RunOptions& options, const PreparedData& data,
                        const Results& results, const BaselineScores& baselines,
                        const std::vector<std::string>& layer_table, int64_t parameter_count,
                        const std::string& device,
                        const std::function<void(const std::string&)>& log) {
  const Validation v = analyse_validation(data, results);
  RunSummary summary = make_summary(config, data, results, v, parameter_count, device);
  add_baselines(summary, baselines);
  write_submission_files(config, options, data, results);
  write_metrics_csv(out_file(options, "metrics.csv"), results.records);
  write_summary_json(out_file(options, "summary.json"), summary);
  if (config.output.report) {
    ReportInputs report;
    report.title = fmt::format("keel: {}", config.source);
    report.epochs = results.records;
    std::copy(&v.confusion[0][0], &v.confusion[0][0] + 4, &report.confusion[0][0]);
    report.top_losses = top_losses(data, results, v, 9);
    report.top_losses_note = top_losses_note(config, data, results, report.top_losses);
    report.resolved_config_yaml = to_yaml(config);
    report.summary = summary;
    report.layer_table = split_lines(layer_table);
    write_report_html(out_file(options, "report.html"), report);
  }
  if (summary.has_cv) {
    log(fmt::format("{}-fold cross-validation x {}: accuracy {:.4f} ± {:.4f} over {} models",
                    config.train.folds, config.train.repeats, summary.cv_mean, summary.cv_std,
                    summary.fold_accuracies.size()));
  }
  if (!v.rows.empty()) {
    log(fmt::format("validation accuracy {:.4f} ({} of {} rows right)", v.accuracy(), v.correct,
                    v.rows.size()));
  }
  if (summary.has_baselines) {
    log(
        fmt::format("baselines on the same validation rows: gender rule {:.4f} ± {:.4f}, logistic "
                    "regression on the same features {:.4f} ± {:.4f}",
                    summary.gender_rule_mean, summary.gender_rule_std, summary.logistic_mean,
                    summary.logistic_std));
  }
  log(fmt::format(
      "trained {} steps in {:.2f} s ({:.3f} ms/step); wrote submission.csv, metrics.csv, "
      "summary.json{} to {}",
      summary.steps, summary.train_seconds, summary.ms_per_step,
      config.output.report ? ", report.html" : "", options.out_dir));
  RunResult r;
  r.device = device;
  r.val_accuracy = summary.val_accuracy;
  r.cv_mean = summary.cv_mean;
  r.cv_std = summary.cv_std;
  r.cv_folds = summary.cv_folds;
  r.steps = summary.steps;
  r.train_seconds = summary.train_seconds;
  return r;
}

}  // namespace keel::train::detail
