// Nested cross-validation of a recipe. Every model sees only its own training rows' labels: its
// ranking and group survival columns are fitted there, its validation rows get theirs from its
// training rows, and the outer held-out rows get theirs from the outer training rows, just as the
// test passengers get theirs from the 891 labelled ones in a real run.
#include "titanic/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "baselines.h"
#include "keel/data/split.h"
#include "keel/error.h"
#include "keel/runtime.h"
#include "keel/train/atomic_file.h"
#include "keel/train/trainer.h"
#include "run_plan.h"
#include "titanic/fold_features.h"
#include "titanic/model_builder.h"

namespace keel::train {

namespace {

using Log = std::function<void(const std::string&)>;
using Rows = std::vector<int64_t>;

// Outer folds are shuffled apart from the recipe's own folds (which use the seed as it is).
constexpr uint64_t kOuterSeedOffset = 0x6E657374ull;  // "nest"

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Rows to_global(const Rows& local, const Rows& pool) {
  Rows out;
  out.reserve(local.size());
  for (int64_t r : local) out.push_back(pool[static_cast<size_t>(r)]);
  return out;
}

std::vector<int> labels_of(const std::vector<int>& labels, const Rows& rows) {
  std::vector<int> out;
  for (int64_t r : rows) out.push_back(labels[static_cast<size_t>(r)]);
  return out;
}

LabelledImages labelled(Tensor images, const std::vector<int>& labels, Device device) {
  std::vector<float> y(labels.begin(), labels.end());
  LabelledImages out;
  out.images = images.to(device);
  out.labels = Tensor::from_data({static_cast<int64_t>(y.size())}, y, device);
  return out;
}

double accuracy(const std::vector<double>& prob_survived, const std::vector<int>& labels) {
  int64_t right = 0;
  for (size_t i = 0; i < labels.size(); ++i) right += (prob_survived[i] > 0.5 ? 1 : 0) == labels[i];
  return static_cast<double>(right) / static_cast<double>(labels.size());
}

// What one recipe learns on the outer training rows (`pool`) and predicts for `target`.
struct RecipeFit {
  double inner = NAN;                 // mean validation accuracy of its members
  std::vector<double> prob_survived;  // per target row, averaged over its members
  int64_t models = 0;
};

class NestedRun {
 public:
  NestedRun(const Config& config, const Log& log, Device device)
      : config_(config), log_(log), device_(device) {}

  NestedEvaluation run();

 private:
  RecipeFit fit_recipe(const Config& recipe, const Rows& pool, const Rows& target) const;
  std::vector<double> train_member(const Config& recipe, const detail::Member& m, const Rows& pool,
                                   const Rows& target, double& valid_accuracy) const;

  const Config& config_;
  Log log_;
  Device device_;
  std::shared_ptr<const data::FeatureSource> source_;
  std::vector<int> labels_;
};

std::vector<double> NestedRun::train_member(const Config& recipe, const detail::Member& m,
                                            const Rows& pool, const Rows& target,
                                            double& valid_accuracy) const {
  const data::FeatureSelection selection = detail::feature_selection(recipe.data);
  const int channels = recipe.data.channels;
  const std::vector<std::string> features = source_->select(selection, m.train_rows);
  const LabelledImages train = labelled(
      data::encode_images(source_->train_table(m.train_rows, m.train_rows), features, channels),
      labels_of(labels_, m.train_rows), device_);
  LabelledImages valid;
  if (!m.valid_rows.empty()) {
    valid = labelled(
        data::encode_images(source_->train_table(m.valid_rows, m.train_rows), features, channels),
        labels_of(labels_, m.valid_rows), device_);
  }
  const Tensor target_images =
      data::encode_images(source_->train_table(target, pool), features, channels);
  Generator init_gen(m.seed);
  auto model = build_model(recipe, train.images.dim(1), train.images.dim(2), init_gen);
  Trainer trainer(trainer_options(recipe), *model, device_, m.seed, m.index);
  TrainerHooks hooks;
  hooks.stop_requested = [] { return interrupt_requested(); };
  if (!trainer.fit(train, valid, hooks)) throw Interrupted{};
  trainer.restore_best();
  valid_accuracy = valid.size() > 0 ? trainer.evaluate_final(valid).accuracy : NAN;
  const std::vector<float> probs = trainer.predict_final(target_images.to(device_)).to_vector();
  std::vector<double> survived(target.size());
  for (size_t i = 0; i < target.size(); ++i) survived[i] = probs[2 * i + 1];
  return survived;
}

RecipeFit NestedRun::fit_recipe(const Config& recipe, const Rows& pool, const Rows& target) const {
  RecipeFit fit;
  fit.prob_survived.assign(target.size(), 0.0);
  std::vector<detail::Member> members = detail::plan_members(recipe, labels_of(labels_, pool));
  double inner_sum = 0.0;
  int inner_count = 0;
  for (detail::Member& m : members) {
    m.train_rows = to_global(m.train_rows, pool);
    m.valid_rows = to_global(m.valid_rows, pool);
    double valid_accuracy = NAN;
    const std::vector<double> p = train_member(recipe, m, pool, target, valid_accuracy);
    for (size_t i = 0; i < p.size(); ++i)
      fit.prob_survived[i] += p[i] / static_cast<double>(members.size());
    if (!std::isnan(valid_accuracy)) {
      inner_sum += valid_accuracy;
      ++inner_count;
    }
    ++fit.models;
  }
  if (inner_count > 0) fit.inner = inner_sum / inner_count;
  return fit;
}

std::vector<Config> candidate_configs(const Config& config, std::vector<std::string>& names) {
  names = config.evaluate.candidates;
  if (names.empty()) names.push_back("");
  std::vector<Config> out;
  for (const std::string& candidate : names) {
    Config c = config;
    c.evaluate.candidates.clear();
    apply_overrides(c, candidate_overrides(candidate));
    const bool validates = c.train.folds > 1 || c.train.val_fraction > 0;
    if (names.size() > 1 && !validates) {
      throw Error(ErrorKind::config,
                  fmt::format("{}: the candidate `{}` trains without validation rows "
                              "(train.folds off and train.val_fraction 0), so the inner loop "
                              "cannot score it: give the recipe train.folds or a val_fraction",
                              config.source, candidate));
    }
    out.push_back(std::move(c));
  }
  return out;
}

NestedEvaluation NestedRun::run() {
  const auto start = std::chrono::steady_clock::now();
  NestedEvaluation e;
  e.device = device_name(device_);
  const std::vector<Config> recipes = candidate_configs(config_, e.candidates);
  const detail::PreparedData data = detail::prepare_data(config_, log_);
  source_ = data.source;
  labels_ = data.labels;
  const EvaluateConfig& ev = config_.evaluate;
  e.folds = ev.folds;
  e.repeats = ev.repeats;
  const std::vector<data::Split> outer = data::repeated_stratified_kfold(
      labels_, ev.folds, ev.repeats, config_.seed + kOuterSeedOffset);
  e.scores.assign(recipes.size(), {});
  std::vector<double> gender, logistic;
  log_(
      fmt::format("nested evaluation: {} outer folds x {} repeat(s), {} candidate(s), each run "
                  "as its config trains on the outer training rows",
                  ev.folds, ev.repeats, recipes.size()));
  for (size_t o = 0; o < outer.size(); ++o) {
    const Rows& pool = outer[o].train;
    const Rows& target = outer[o].valid;
    const std::vector<int> target_labels = labels_of(labels_, target);
    int best = 0;
    std::string line;
    for (size_t c = 0; c < recipes.size(); ++c) {
      const RecipeFit fit = fit_recipe(recipes[c], pool, target);
      e.models += fit.models;
      e.scores[c].push_back({fit.inner, accuracy(fit.prob_survived, target_labels)});
      const double inner = fit.inner, best_inner = e.scores[static_cast<size_t>(best)].back().inner;
      if (c > 0 && inner > best_inner) best = static_cast<int>(c);
      line += fmt::format(" {:.4f}", inner);
    }
    e.chosen.push_back(best);
    e.outer_accuracies.push_back(e.scores[static_cast<size_t>(best)].back().outer);
    gender.push_back(detail::gender_rule_accuracy(*source_, target));
    logistic.push_back(
        detail::logistic_accuracy(*source_, detail::feature_selection(config_.data), pool, target));
    log_(
        fmt::format("outer fold {:>2}/{}: inner cv{} -> candidate {} chosen, held-out accuracy "
                    "{:.4f} ({} rows)  [{:.1f} s]",
                    o + 1, outer.size(), line, best + 1, e.outer_accuracies.back(), target.size(),
                    seconds_since(start)));
  }
  const double test_to_train = 1.0 / (ev.folds - 1);
  e.nested = estimate_accuracy(e.outer_accuracies, test_to_train);
  for (const auto& per_fold : e.scores) {
    std::vector<double> outer_acc;
    for (const CandidateScore& s : per_fold) outer_acc.push_back(s.outer);
    e.candidate_estimates.push_back(estimate_accuracy(outer_acc, test_to_train));
  }
  e.gender_rule = estimate_accuracy(gender, test_to_train);
  e.logistic = estimate_accuracy(logistic, test_to_train);
  e.seconds = seconds_since(start);
  return e;
}

Device evaluation_device(const Config& config) {
  if (config.device == "cpu") return Device::cpu;
  if (warm_up_gpu().started) return Device::cuda;
  if (config.device == "cuda") {
    throw Error(ErrorKind::usage, "--device cuda: no usable CUDA device; run with --device cpu");
  }
  return Device::cpu;
}

}  // namespace

NestedEvaluation evaluate_titanic(const Config& config, const RunOptions& options) {
  const Log log = [&](const std::string& line) {
    if (options.log && !options.quiet) options.log(line);
  };
  clear_interrupt();
  set_num_threads(config.threads);
  set_deterministic(config.deterministic);
  create_directories(options.out_dir);
  NestedRun run(config, log, evaluation_device(config));
  NestedEvaluation e = run.run();
  const auto out = std::filesystem::path(options.out_dir);
  write_file_atomically((out / "summary.json").string(), evaluation_json(config, e));
  if (config.output.report)
    write_file_atomically((out / "report.html").string(), evaluation_html(config, e));
  write_file_atomically((out / "config.resolved.yaml").string(), to_yaml(config));
  log(
      fmt::format("nested cross-validation ({} x {} outer folds, {} models, {:.1f} s): accuracy "
                  "{:.4f} ± {:.4f} (std), 95% interval [{:.4f}, {:.4f}]",
                  e.folds, e.repeats, e.models, e.seconds, e.nested.mean, e.nested.std,
                  e.nested.low, e.nested.high));
  log(fmt::format(
      "baselines on the same folds: gender rule {:.4f} ± {:.4f}, logistic regression on "
      "the recipe's features {:.4f} ± {:.4f}",
      e.gender_rule.mean, e.gender_rule.std, e.logistic.mean, e.logistic.std));
  return e;
}

}  // namespace keel::train
