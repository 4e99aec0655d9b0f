// report.html: assembles the page from the charts, the confusion matrix, the top-loss images,
// the summary, the layer table and the resolved config. No scripts and no external resources.
#include "titanic/report.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <set>

#include <fmt/format.h>

#include "keel/train/atomic_file.h"
#include "report_parts.h"

namespace keel::train {
namespace {

using report_detail::ChartSeries;
using report_detail::ChartSpec;
using report_detail::html_escape;

constexpr const char* kStyle = R"css(
:root { --ink: #1d2430; --muted: #5b6678; --line: #e2e5ea; --bg: #f4f5f7; --accent: #1f6feb; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1140px; margin: 0 auto; padding: 28px 28px 56px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 17px; margin: 0 0 12px; }
.sub { color: var(--muted); font-size: 13px; }
.sub code { font-size: 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(165px, 1fr)); gap: 12px;
  margin: 20px 0 8px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.card .k { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.05em; }
.card .v { font-size: 24px; font-weight: 600; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .v small { font-size: 14px; font-weight: 500; color: var(--muted); white-space: nowrap;
  display: inline-block; }
section { background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 18px 22px;
  margin: 18px 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(470px, 100%), 1fr)); gap: 18px 26px; }
figure { margin: 0; }
figcaption { font-weight: 600; font-size: 14px; margin: 0 0 2px 4px; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font-size: 11px; fill: #3b4556; }
svg.chart text.label { font-size: 12px; fill: var(--muted); }
svg.chart text.note { font-size: 13px; fill: var(--muted); font-style: italic; }
svg.chart text.marker-label { font-size: 10px; fill: #6b7280; paint-order: stroke;
  stroke: #fbfbfc; stroke-width: 3px; stroke-linejoin: round; }
svg.chart .plot-bg { fill: #fbfbfc; }
svg.chart .grid { stroke: #e6e8ec; stroke-width: 1; }
svg.chart .axis { stroke: #6b7280; stroke-width: 1; }
svg.chart .marker { stroke: #9aa1ad; stroke-width: 1; stroke-dasharray: 3 3; }
.hint { color: var(--muted); font-size: 12.5px; margin: 6px 0 0; }
.row { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.kv td, table.kv th { padding: 5px 14px 5px 0; border-bottom: 1px solid #eef0f3; text-align: left;
  vertical-align: top; }
table.kv th { color: var(--muted); font-weight: 500; white-space: nowrap; }
table.confusion th, table.confusion td { padding: 8px 12px; text-align: center; }
table.confusion th { font-weight: 600; color: #3b4556; font-size: 13px; }
table.confusion th.axis-name { color: var(--muted); font-weight: 500; font-size: 12px;
  text-transform: uppercase; letter-spacing: 0.05em; }
table.confusion td.cell { width: 118px; height: 72px; border: 2px solid #fff; border-radius: 6px;
  font-size: 22px; font-weight: 600; }
table.confusion td.cell small { display: block; font-size: 12px; font-weight: 500; opacity: 0.85; }
table.confusion td.total { color: var(--muted); }
table.metrics { font-size: 12.5px; margin-top: 10px; }
table.metrics th, table.metrics td { padding: 3px 10px; text-align: right; border-bottom: 1px solid #eef0f3; }
table.metrics tr.best td { background: #eef5ff; font-weight: 600; }
.losses { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 16px 12px; }
.tile { text-align: center; font-size: 12px; }
.tile img { width: 96px; height: 96px; image-rendering: pixelated; border: 1px solid #cfd4dc;
  border-radius: 4px; display: block; margin: 0 auto 4px; background: #000; }
.tile .cap { font-variant-numeric: tabular-nums; }
.tile .cap .wrong { color: #b42318; font-weight: 600; }
.tile .row-id { color: var(--muted); font-size: 11px; }
pre { background: #f7f8fa; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px;
  overflow: auto; font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; margin: 0; }
details summary { cursor: pointer; color: var(--accent); font-size: 13px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 24px; }
)css";

// Colours from a palette that stays distinguishable for the common colour-vision deficiencies.
constexpr const char* kTrainColor = "#1f77b4";
constexpr const char* kValColor = "#e8710a";
constexpr const char* kAccuracyColor = "#2a9d3c";
constexpr const char* kLrColor = "#7b4fc9";
constexpr const char* kBetaColor = "#8c564b";

std::string fmt_or_dash(double v, const char* spec) {
  if (!std::isfinite(v)) return "&ndash;";
  return fmt::format(fmt::runtime(spec), v);
}

std::string class_name(const ReportInputs& in, int label) {
  if (label >= 0 && static_cast<size_t>(label) < in.class_names.size()) {
    return in.class_names[static_cast<size_t>(label)];
  }
  return fmt::format("class {}", label);
}

// 1234567 -> "1,234,567": parameter counts read at a glance, whatever the C++ locale.
std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string human_seconds(double s) {
  if (!std::isfinite(s)) return "&ndash;";
  if (s < 60) return fmt::format("{:.2f} s", s);
  return fmt::format("{}m {:02.0f}s", static_cast<int>(s / 60), std::fmod(s, 60.0));
}

// The per-fold curves of one metric plus, when there are several folds, their per-epoch mean.
struct MetricCurves {
  std::map<int, std::vector<std::pair<double, double>>> per_fold;  // fold -> (epoch, value)
  std::vector<double> mean_x, mean_y;
};

MetricCurves curves(const std::vector<EpochRecord>& records, double EpochRecord::*field) {
  MetricCurves c;
  std::map<int, std::pair<double, int>> sums;  // epoch -> (sum of finite values, count)
  for (const EpochRecord& r : records) {
    c.per_fold[r.fold].emplace_back(r.epoch, r.*field);
    auto& s = sums[r.epoch];
    if (std::isfinite(r.*field)) {
      s.first += r.*field;
      s.second += 1;
    }
  }
  for (auto& [fold, points] : c.per_fold) std::sort(points.begin(), points.end());
  for (const auto& [epoch, s] : sums) {
    c.mean_x.push_back(epoch);
    c.mean_y.push_back(s.second > 0 ? s.first / s.second : std::nan(""));
  }
  return c;
}

bool any_finite(const std::vector<EpochRecord>& records, double EpochRecord::*field) {
  return std::any_of(records.begin(), records.end(),
                     [&](const EpochRecord& r) { return std::isfinite(r.*field); });
}

// Adds a metric to a chart: faint thin lines for individual folds (when there are several), the
// mean (or the only fold) bold and in the legend.
void add_metric(ChartSpec& chart, const std::vector<EpochRecord>& records,
                double EpochRecord::*field, const std::string& label, const std::string& color,
                bool dashed) {
  MetricCurves c = curves(records, field);
  const bool several = c.per_fold.size() > 1;
  if (several) {
    for (const auto& [fold, points] : c.per_fold) {
      ChartSeries s;
      s.label = fmt::format("{} (fold {})", label, fold);
      s.color = color;
      s.stroke_width = 1.0;
      s.opacity = 0.28;
      s.dashed = dashed;
      s.markers = false;
      s.in_legend = false;
      for (const auto& [x, y] : points) {
        s.x.push_back(x);
        s.y.push_back(y);
      }
      chart.series.push_back(std::move(s));
    }
  }
  ChartSeries s;
  s.label = several ? fmt::format("{} (mean of {} folds)", label, c.per_fold.size()) : label;
  s.color = color;
  s.stroke_width = 2.2;
  s.dashed = dashed;
  s.markers = c.mean_x.size() <= 40;
  s.x = std::move(c.mean_x);
  s.y = std::move(c.mean_y);
  chart.series.push_back(std::move(s));
}

void append_chart(std::string& out, const std::string& caption, const ChartSpec& chart) {
  fmt::format_to(std::back_inserter(out), "<figure>\n<figcaption>{}</figcaption>\n{}</figure>\n",
                 html_escape(caption), report_detail::svg_line_chart(chart));
}

void append_charts(std::string& out, const ReportInputs& in) {
  const auto& recs = in.epochs;
  const bool has_val = any_finite(recs, &EpochRecord::val_loss);
  const int best = in.summary.best_epoch;
  std::set<int> folds;
  for (const EpochRecord& r : recs) folds.insert(r.fold);

  out += "<section id=\"training\">\n<h2>Training curves</h2>\n<div class=\"charts\">\n";
  ChartSpec loss;
  loss.y_label = "cross-entropy loss";
  loss.empty_note = "no epochs recorded";
  add_metric(loss, recs, &EpochRecord::train_loss, "train loss", kTrainColor, false);
  if (has_val) add_metric(loss, recs, &EpochRecord::val_loss, "validation loss", kValColor, true);
  if (best > 0 && folds.size() <= 1) {
    loss.marker_x = best;
    loss.marker_label = fmt::format("kept epoch {}", best);
  }
  append_chart(out, "Loss", loss);

  ChartSpec acc;
  acc.y_label = "validation accuracy";
  acc.empty_note = "no validation set";
  if (has_val || any_finite(recs, &EpochRecord::val_accuracy)) {
    add_metric(acc, recs, &EpochRecord::val_accuracy, "validation accuracy", kAccuracyColor, false);
  }
  acc.marker_x = loss.marker_x;
  acc.marker_label = loss.marker_label;
  append_chart(out, "Validation accuracy", acc);

  ChartSpec lr;
  lr.y_label = "learning rate";
  lr.empty_note = "no epochs recorded";
  add_metric(lr, recs, &EpochRecord::lr, "learning rate", kLrColor, false);
  append_chart(out, "Learning rate (end of epoch)", lr);

  if (any_finite(recs, &EpochRecord::beta1)) {
    ChartSpec beta;
    beta.y_label = "beta1 / momentum";
    add_metric(beta, recs, &EpochRecord::beta1, "beta1", kBetaColor, false);
    append_chart(out, "Momentum (end of epoch)", beta);
  }
  out += "</div>\n";
  if (!has_val) {
    out +=
        "<p class=\"hint\">This run had no validation set (val_fraction 0 and no k-fold), so "
        "only the training loss is drawn.</p>\n";
  } else if (folds.size() > 1) {
    out += fmt::format(
        "<p class=\"hint\">Bold lines are the per-epoch mean over {} folds; faint lines are the "
        "individual folds.</p>\n",
        folds.size());
  }

  // The numbers behind the charts, folded away so the page stays short.
  out +=
      "<details><summary>Per-epoch numbers</summary>\n<table class=\"metrics\">\n"
      "<tr><th>fold</th><th>epoch</th><th>train loss</th><th>val loss</th><th>val accuracy</th>"
      "<th>error rate</th><th>lr</th><th>beta1</th><th>seconds</th></tr>\n";
  for (const EpochRecord& r : recs) {
    const bool is_best = folds.size() <= 1 && r.epoch == best;
    fmt::format_to(std::back_inserter(out),
                   "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                   "<td>{}</td><td>{}</td><td>{}</td></tr>\n",
                   is_best ? " class=\"best\"" : "", r.fold, r.epoch,
                   fmt_or_dash(r.train_loss, "{:.4f}"), fmt_or_dash(r.val_loss, "{:.4f}"),
                   fmt_or_dash(r.val_accuracy, "{:.4f}"),
                   fmt_or_dash(1.0 - r.val_accuracy, "{:.4f}"), fmt_or_dash(r.lr, "{:.3g}"),
                   fmt_or_dash(r.beta1, "{:.3f}"), fmt_or_dash(r.seconds, "{:.2f}"));
  }
  out += "</table>\n</details>\n</section>\n";
}

void append_confusion(std::string& out, const ReportInputs& in) {
  const auto& m = in.confusion;
  const int64_t total = m[0][0] + m[0][1] + m[1][0] + m[1][1];
  out += "<div>\n<h2>Confusion matrix</h2>\n";
  if (total == 0) {
    out +=
        "<p class=\"hint\">No validation predictions: this run had no validation set.</p>\n"
        "</div>\n";
    return;
  }
  auto o = std::back_inserter(out);
  const std::string n0 = html_escape(class_name(in, 0)), n1 = html_escape(class_name(in, 1));
  fmt::format_to(o,
                 "<table class=\"confusion\">\n<tr><th></th><th></th><th colspan=\"2\" "
                 "class=\"axis-name\">predicted</th><th></th></tr>\n"
                 "<tr><th></th><th></th><th>{0}</th><th>{1}</th><th class=\"axis-name\">total</th>"
                 "</tr>\n",
                 n0, n1);
  for (int t = 0; t < 2; ++t) {
    const int64_t row_total = m[t][0] + m[t][1];
    out += "<tr>";
    if (t == 0) out += "<th rowspan=\"2\" class=\"axis-name\">actual</th>";
    fmt::format_to(o, "<th>{}</th>", t == 0 ? n0 : n1);
    for (int p = 0; p < 2; ++p) {
      // Shade by the share of the actual class, so a rare class's errors are as visible as a
      // common one's: blue for correct, red for wrong.
      const double share = row_total > 0 ? double(m[t][p]) / double(row_total) : 0.0;
      const double alpha = 0.08 + 0.8 * share;
      const bool correct = t == p;
      fmt::format_to(o,
                     "<td class=\"cell {}\" style=\"background:rgba({},{:.2f});color:{}\">{}"
                     "<small>{:.1f}% of actual</small></td>",
                     correct ? "correct" : "wrong", correct ? "31,111,235" : "214,48,49", alpha,
                     alpha > 0.55 ? "#fff" : "#1d2430", m[t][p], 100.0 * share);
    }
    fmt::format_to(o, "<td class=\"total\">{}</td></tr>\n", row_total);
  }
  const int64_t correct = m[0][0] + m[1][1];
  auto ratio = [](int64_t a, int64_t b) { return b > 0 ? double(a) / double(b) : std::nan(""); };
  fmt::format_to(o,
                 "<tr><th></th><th class=\"axis-name\">total</th><td class=\"total\">{}</td>"
                 "<td class=\"total\">{}</td><td class=\"total\">{}</td></tr>\n</table>\n",
                 m[0][0] + m[1][0], m[0][1] + m[1][1], total);
  fmt::format_to(o,
                 "<p class=\"hint\">Accuracy {} ({} of {} correct); precision for {} {}, recall "
                 "{}.</p>\n</div>\n",
                 fmt_or_dash(ratio(correct, total), "{:.4f}"), correct, total, n1,
                 fmt_or_dash(ratio(m[1][1], m[0][1] + m[1][1]), "{:.3f}"),
                 fmt_or_dash(ratio(m[1][1], m[1][0] + m[1][1]), "{:.3f}"));
}

void append_summary_table(std::string& out, const ReportInputs& in) {
  const RunSummary& s = in.summary;
  auto row = [&](const char* key, const std::string& value_html) {
    fmt::format_to(std::back_inserter(out), "<tr><th>{}</th><td>{}</td></tr>\n", key, value_html);
  };
  out += "<div>\n<h2>Run</h2>\n<table class=\"kv\">\n";
  row("device", html_escape(s.device));
  row("CPU kernels", html_escape(s.cpu_isa));
  row("config", html_escape(s.config_path.empty() ? "(defaults)" : s.config_path));
  row("weights", s.pretrained.empty()
                     ? std::string("random initialisation")
                     : html_escape(s.pretrained + " (sha256 " + s.pretrained_sha256 + ")"));
  row("seed", std::to_string(s.seed));
  row("epochs", std::to_string(s.epochs));
  row("optimizer steps", std::to_string(s.steps));
  row("training time", human_seconds(s.train_seconds));
  row("time per step", fmt_or_dash(s.ms_per_step, "{:.2f} ms"));
  row("validation accuracy", fmt_or_dash(s.val_accuracy, "{:.4f}"));
  row("validation loss", fmt_or_dash(s.val_loss, "{:.4f}"));
  if (s.best_epoch > 0) {
    row("kept epoch",
        fmt::format("{}{}", s.best_epoch,
                    s.best_metric.empty() ? "" : " (by " + html_escape(s.best_metric) + ")"));
  }
  if (s.has_cv) {
    row("cross-validation",
        fmt::format("{} &plusmn; {} over {} folds<br><small>{}</small>",
                    fmt_or_dash(s.cv_mean, "{:.4f}"), fmt_or_dash(s.cv_std, "{:.4f}"), s.cv_folds,
                    html_escape(s.cv_estimate)));
    std::string folds;
    for (double a : s.fold_accuracies) {
      folds += (folds.empty() ? "" : ", ") + fmt_or_dash(a, "{:.4f}");
    }
    row("fold accuracies", folds);
  }
  if (s.has_baselines) {
    row("baselines",
        fmt::format("gender rule {} &plusmn; {}, logistic regression on the same features {} "
                    "&plusmn; {}<br><small>on the same validation rows, fitted on the same "
                    "training rows: does the CNN earn its keep?</small>",
                    fmt_or_dash(s.gender_rule_mean, "{:.4f}"),
                    fmt_or_dash(s.gender_rule_std, "{:.4f}"),
                    fmt_or_dash(s.logistic_mean, "{:.4f}"), fmt_or_dash(s.logistic_std, "{:.4f}")));
  }
  if (s.parameters > 0) row("parameters", with_commas(s.parameters));
  row("rows (train / val / test)",
      fmt::format("{} / {} / {}", s.train_rows, s.val_rows, s.test_rows));
  if (s.ensemble_members > 1) row("ensemble members", std::to_string(s.ensemble_members));
  row("keel",
      html_escape(s.keel_version) + " (commit <code>" + html_escape(s.git_commit) + "</code>)");
  out += "</table>\n</div>\n";
}

void append_cards(std::string& out, const ReportInputs& in) {
  const RunSummary& s = in.summary;
  auto card = [&](const char* key, const std::string& value_html) {
    fmt::format_to(std::back_inserter(out),
                   "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div></div>\n",
                   key, value_html);
  };
  out += "<div class=\"cards\">\n";
  if (s.has_cv) {
    card("CV accuracy",
         fmt::format("{} <small>&plusmn; {}</small>", fmt_or_dash(s.cv_mean, "{:.4f}"),
                     fmt_or_dash(s.cv_std, "{:.4f}")));
  }
  card("validation accuracy", fmt_or_dash(s.val_accuracy, "{:.4f}"));
  card("validation loss", fmt_or_dash(s.val_loss, "{:.4f}"));
  card("training time", fmt::format("{} <small>{}</small>", human_seconds(s.train_seconds),
                                    fmt_or_dash(s.ms_per_step, "{:.2f} ms/step")));
  card("epochs", fmt::format("{} <small>{} steps</small>", s.epochs, s.steps));
  out += "</div>\n";
}

void append_top_losses(std::string& out, const ReportInputs& in) {
  out += "<section id=\"top-losses\">\n<h2>Validation images with the highest loss</h2>\n";
  if (in.top_losses.empty()) {
    out += "<p class=\"hint\">None recorded (no validation set).</p>\n</section>\n";
    return;
  }
  out +=
      "<p class=\"hint\" style=\"margin:0 0 12px\">Each caption reads predicted / actual / loss / "
      "probability of the actual class; wrong predictions are in red. Each square is one "
      "feature.</p>\n";
  if (!in.top_losses_note.empty()) {
    out +=
        "<p class=\"hint\" style=\"margin:0 0 12px\">" + html_escape(in.top_losses_note) + "</p>\n";
  }
  out += "<div class=\"losses\">\n";
  for (const TopLossImage& image : in.top_losses) {
    const std::string png = report_detail::encode_png(image, kReportImagePixels);
    const std::string predicted = html_escape(class_name(in, image.predicted));
    const std::string actual = html_escape(class_name(in, image.label));
    fmt::format_to(
        std::back_inserter(out),
        "<div class=\"tile\"><img src=\"data:image/png;base64,{1}\" alt=\"row {0}\">"
        "<div class=\"cap\"><span class=\"{2}\">{3}</span> / {4} / {5:.2f} / {6:.2f}</div>"
        "<div class=\"row-id\">row {0}</div></div>\n",
        image.row, report_detail::base64_encode(png),
        image.predicted == image.label ? "right" : "wrong", predicted, actual, image.loss,
        image.prob_true);
  }
  out += "</div>\n</section>\n";
}

}  // namespace

std::string report_html(const ReportInputs& in) {
  std::string out;
  out.reserve(64 * 1024);
  auto o = std::back_inserter(out);
  fmt::format_to(o,
                 "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n",
                 html_escape(in.title), kStyle);
  fmt::format_to(
      o,
      "<header>\n<h1>{}</h1>\n<div class=\"sub\">{}{} &middot; keel {} &middot; commit "
      "<code>{}</code></div>\n</header>\n",
      html_escape(in.title), html_escape(in.summary.device),
      in.summary.config_path.empty() ? "" : " &middot; " + html_escape(in.summary.config_path),
      html_escape(in.summary.keel_version), html_escape(in.summary.git_commit));
  append_cards(out, in);
  append_charts(out, in);

  out += "<section id=\"results\">\n<div class=\"row\">\n";
  append_confusion(out, in);
  append_summary_table(out, in);
  out += "</div>\n</section>\n";

  append_top_losses(out, in);

  out += "<section id=\"model\">\n<h2>Model</h2>\n";
  if (in.layer_table.empty()) {
    out += "<p class=\"hint\">No layer table recorded.</p>\n";
  } else {
    out += "<pre class=\"layers\">";
    for (const std::string& line : in.layer_table) out += html_escape(line) + "\n";
    out += "</pre>\n";
  }
  out += "</section>\n";

  out += "<section id=\"config\">\n<h2>Resolved config</h2>\n<pre class=\"config\">";
  out += html_escape(in.resolved_config_yaml);
  out += "</pre>\n</section>\n";
  fmt::format_to(o, "<footer>Written by keel {} ({}).</footer>\n</main>\n</body>\n</html>\n",
                 html_escape(in.summary.keel_version), html_escape(in.summary.git_commit));
  return out;
}

void write_report_html(const std::string& path, const ReportInputs& inputs) {
  write_file_atomically(path, report_html(inputs));
}

}  // namespace keel::train
