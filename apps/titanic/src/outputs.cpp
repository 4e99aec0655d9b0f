// Writers for submission.csv, probabilities.csv, metrics.csv and summary.json.
// Everything is formatted in memory first and then written atomically in one go.
#include "titanic/outputs.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "keel/error.h"
#include "keel/train/atomic_file.h"

namespace keel::train {
namespace {

void check_same_length(const std::string& path, size_t ids, size_t values, const char* what) {
  if (ids != values) {
    throw Error(ErrorKind::runtime,
                fmt::format("internal error writing {}: {} passenger ids but {} {}", path, ids,
                            values, what));
  }
}

// Six significant digits: plenty for losses and rates, and 1 - 0.8 reads as 0.2 rather than
// 0.19999999999999996. Empty for NaN, which CSV readers take as a missing value.
std::string csv_number(double value) {
  if (std::isnan(value)) return {};
  return fmt::format("{:.6g}", value);
}

// JSON has no NaN or infinity; a missing number is null.
nlohmann::json json_number(double value) {
  if (!std::isfinite(value)) return nullptr;
  return value;
}

}  // namespace

void write_submission(const std::string& path, const std::vector<int>& passenger_ids,
                      const std::vector<int>& labels) {
  check_same_length(path, passenger_ids.size(), labels.size(), "labels");
  std::string text = "PassengerId,Survived\n";
  text.reserve(text.size() + passenger_ids.size() * 8);
  for (size_t i = 0; i < passenger_ids.size(); ++i) {
    if (labels[i] != 0 && labels[i] != 1) {
      throw Error(ErrorKind::runtime,
                  fmt::format("internal error writing {}: label {} for passenger {} is not 0 or 1",
                              path, labels[i], passenger_ids[i]));
    }
    fmt::format_to(std::back_inserter(text), "{},{}\n", passenger_ids[i], labels[i]);
  }
  write_file_atomically(path, text);
}

void write_probabilities(const std::string& path, const std::vector<int>& passenger_ids,
                         const std::vector<double>& prob_survived) {
  check_same_length(path, passenger_ids.size(), prob_survived.size(), "probabilities");
  std::string text = "PassengerId,Survived_probability\n";
  text.reserve(text.size() + passenger_ids.size() * 14);
  for (size_t i = 0; i < passenger_ids.size(); ++i) {
    fmt::format_to(std::back_inserter(text), "{},{:.6f}\n", passenger_ids[i], prob_survived[i]);
  }
  write_file_atomically(path, text);
}

void write_metrics_csv(const std::string& path, const std::vector<EpochRecord>& records) {
  std::string text =
      "epoch,fold,train_loss,val_loss,val_accuracy,val_error_rate,lr,beta1,seconds\n";
  for (const EpochRecord& r : records) {
    fmt::format_to(std::back_inserter(text), "{},{},{},{},{},{},{},{},{}\n", r.epoch, r.fold,
                   csv_number(r.train_loss), csv_number(r.val_loss), csv_number(r.val_accuracy),
                   csv_number(1.0 - r.val_accuracy), csv_number(r.lr), csv_number(r.beta1),
                   csv_number(r.seconds));
  }
  write_file_atomically(path, text);
}

std::string summary_json(const RunSummary& s) {
  nlohmann::json j;
  j["keel_version"] = s.keel_version;
  j["git_commit"] = s.git_commit;
  j["device"] = s.device;
  j["cpu_isa"] = s.cpu_isa;
  j["config"] = s.config_path;
  j["pretrained"] = s.pretrained.empty()
                        ? nlohmann::json(nullptr)
                        : nlohmann::json{{"file", s.pretrained}, {"sha256", s.pretrained_sha256}};
  j["seed"] = s.seed;
  j["epochs"] = s.epochs;
  j["steps"] = s.steps;
  j["train_seconds"] = json_number(s.train_seconds);
  j["ms_per_step"] = json_number(s.ms_per_step);
  j["graph_captures"] = s.graph_captures;
  j["graph_replays"] = s.graph_replays;
  j["skipped_steps"] = s.skipped_steps;
  j["precision"] = s.precision;
  j["loss_scale_skipped_steps"] = s.loss_scale_skipped_steps;
  j["loss_scale"] = json_number(s.loss_scale);
  j["val_accuracy"] = json_number(s.val_accuracy);
  j["val_loss"] = json_number(s.val_loss);
  j["best_epoch"] = s.best_epoch;
  j["best_metric"] = s.best_metric;
  j["parameters"] = s.parameters;
  j["train_rows"] = s.train_rows;
  j["val_rows"] = s.val_rows;
  j["test_rows"] = s.test_rows;
  j["ensemble_members"] = s.ensemble_members;
  if (s.has_baselines) {
    j["baselines"] = {
        {"rows", "the validation rows above, each baseline fitted on the same training rows"},
        {"gender_rule",
         {{"mean", json_number(s.gender_rule_mean)}, {"std", json_number(s.gender_rule_std)}}},
        {"logistic_regression",
         {{"mean", json_number(s.logistic_mean)}, {"std", json_number(s.logistic_std)}}}};
  }
  // The cv keys exist only when k-fold ran, so a reader can tell "no CV" from "CV gave null".
  if (s.has_cv) {
    j["cv_mean"] = json_number(s.cv_mean);
    j["cv_std"] = json_number(s.cv_std);
    j["cv_folds"] = s.cv_folds;
    j["cv_estimate"] = s.cv_estimate;
    nlohmann::json folds = nlohmann::json::array();
    for (double a : s.fold_accuracies) folds.push_back(json_number(a));
    j["fold_accuracies"] = std::move(folds);
  }
  return j.dump(2) + "\n";
}

void write_summary_json(const std::string& path, const RunSummary& summary) {
  write_file_atomically(path, summary_json(summary));
}

}  // namespace keel::train
