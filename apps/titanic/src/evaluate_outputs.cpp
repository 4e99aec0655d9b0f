// The files of titanic_train --evaluate: summary.json and a one-page report.html that state which
// number is the nested estimate and which are not.
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "keel/version.h"
#include "titanic/evaluate.h"

namespace keel::train {

namespace {

constexpr const char* kNestedNote =
    "nested and leak-free: outer repeated stratified k-fold; inside each outer training part the "
    "recipe ran as it trains on all rows (its own folds, feature ranking, group survival columns "
    "and best-epoch choice fitted there only) and chose among the candidates by that inner "
    "cross-validation alone; each outer held-out fold was scored once, by the chosen candidate";
constexpr const char* kIntervalNote =
    "95% corrected resampled t interval (Nadeau & Bengio 2003): mean +- t(0.975, n-1) * std * "
    "sqrt(1/n + 1/(k-1)), wider than the naive one because the folds share training rows";
constexpr const char* kCandidateNote =
    "each candidate as if it had been fixed in advance; picking the best of these rows would "
    "not be nested";

nlohmann::json number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

nlohmann::json estimate_json(const AccuracyEstimate& e) {
  return {{"mean", number(e.mean)},
          {"std", number(e.std)},
          {"ci95_low", number(e.low)},
          {"ci95_high", number(e.high)},
          {"folds", e.folds}};
}

std::string candidate_name(const std::string& c) {
  return c.empty() ? "(the recipe as it is)" : c;
}

int times_chosen(const NestedEvaluation& e, size_t c) {
  int n = 0;
  for (int k : e.chosen) n += k == static_cast<int>(c);
  return n;
}

double inner_mean(const NestedEvaluation& e, size_t c) {
  double sum = 0.0;
  for (const CandidateScore& s : e.scores[c]) sum += s.inner;
  return e.scores[c].empty() ? NAN : sum / static_cast<double>(e.scores[c].size());
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '<')
      out += "&lt;";
    else if (ch == '>')
      out += "&gt;";
    else if (ch == '&')
      out += "&amp;";
    else
      out += ch;
  }
  return out;
}

std::string estimate_cells(const AccuracyEstimate& e) {
  return fmt::format("<td>{:.4f}</td><td>{:.4f}</td><td>[{:.4f}, {:.4f}]</td>", e.mean, e.std,
                     e.low, e.high);
}

}  // namespace

std::string evaluation_json(const Config& config, const NestedEvaluation& e) {
  nlohmann::json j;
  j["mode"] = "evaluate";
  j["estimate"] = "nested";
  j["estimate_note"] = kNestedNote;
  j["nested"] = estimate_json(e.nested);
  j["nested"]["interval"] = kIntervalNote;
  j["outer_folds"] = e.folds;
  j["outer_repeats"] = e.repeats;
  j["fold_accuracies"] = e.outer_accuracies;
  nlohmann::json chosen = nlohmann::json::array();
  for (int c : e.chosen) chosen.push_back(candidate_name(e.candidates[static_cast<size_t>(c)]));
  j["chosen_per_fold"] = chosen;
  nlohmann::json candidates = nlohmann::json::array();
  for (size_t c = 0; c < e.candidates.size(); ++c) {
    nlohmann::json row = estimate_json(e.candidate_estimates[c]);
    row["overrides"] = e.candidates[c];
    row["times_chosen"] = times_chosen(e, c);
    row["inner_cv_mean"] = number(inner_mean(e, c));
    row["note"] = kCandidateNote;
    candidates.push_back(row);
  }
  j["candidates"] = candidates;
  j["baselines"] = {{"gender_rule", estimate_json(e.gender_rule)},
                    {"logistic_regression", estimate_json(e.logistic)}};
  j["models"] = e.models;
  j["seconds"] = e.seconds;
  j["device"] = e.device;
  j["config_path"] = config.source;
  j["seed"] = config.seed;
  j["keel_version"] = keel::version();
  j["git_commit"] = keel::git_commit();
  return j.dump(2) + "\n";
}

std::string evaluation_html(const Config& config, const NestedEvaluation& e) {
  std::string rows;
  for (size_t c = 0; c < e.candidates.size(); ++c) {
    rows += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{:.4f}</td>{}</tr>\n",
                        html_escape(candidate_name(e.candidates[c])), times_chosen(e, c),
                        inner_mean(e, c), estimate_cells(e.candidate_estimates[c]));
  }
  return fmt::format(
      R"(<!doctype html>
<html><head><meta charset="utf-8"><title>keel: nested evaluation of {config}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:left}}
.big{{font-size:1.4em}}</style></head><body>
<h1>Nested evaluation of {config}</h1>
<p class="big"><b>Nested estimate</b> of accuracy on unseen passengers: <b>{mean:.4f}</b> ± {std:.4f}
(std over {n} outer folds), 95% interval [{low:.4f}, {high:.4f}].</p>
<p>This estimate is <b>{note}</b>.</p>
<p>Interval: {interval}.</p>
<h2>Candidates (not nested)</h2>
<p>Each row scores one candidate on the same outer folds as if it had been fixed in advance: the
inner column is what chose, the others are for reading only; picking the best row by its outer
accuracy would not be nested.</p>
<table><tr><th>candidate</th><th>chosen</th><th>inner cv</th><th>outer mean</th><th>std</th>
<th>95% interval</th></tr>
{rows}</table>
<h2>Baselines on the same outer folds</h2>
<table><tr><th>model</th><th>mean</th><th>std</th><th>95% interval</th></tr>
<tr><td>gender rule (women survive)</td>{gender}</tr>
<tr><td>L2 logistic regression on the recipe's features</td>{logistic}</tr></table>
<p>{models} networks trained in {seconds:.1f} s on {device}; seed {seed}; keel {version}
(commit {commit}).</p>
</body></html>
)",
      fmt::arg("config", html_escape(config.source)), fmt::arg("mean", e.nested.mean),
      fmt::arg("std", e.nested.std), fmt::arg("n", e.nested.folds), fmt::arg("low", e.nested.low),
      fmt::arg("high", e.nested.high), fmt::arg("note", kNestedNote),
      fmt::arg("interval", kIntervalNote), fmt::arg("rows", rows),
      fmt::arg("gender", estimate_cells(e.gender_rule)),
      fmt::arg("logistic", estimate_cells(e.logistic)), fmt::arg("models", e.models),
      fmt::arg("seconds", e.seconds), fmt::arg("device", e.device), fmt::arg("seed", config.seed),
      fmt::arg("version", keel::version()), fmt::arg("commit", keel::git_commit()));
}

}  // namespace keel::train
