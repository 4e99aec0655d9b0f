// SVG line charts for report.html: per-epoch curves with "nice" 1-2-5 ticks, a grid and a legend.
// Plain SVG elements only, so the page needs no script and renders the same in any browser.
#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include <fmt/format.h>

#include "report_parts.h"

namespace keel::train::report_detail {
namespace {

constexpr double kWidth = 520, kHeight = 300;
constexpr double kLeft = 76, kRight = 16, kTop = 34, kBottom = 46;
constexpr double kPlotX0 = kLeft, kPlotX1 = kWidth - kRight;
constexpr double kPlotY0 = kTop, kPlotY1 = kHeight - kBottom;

// The smallest of 1, 2, 5 x 10^k that is at least `raw`: tick steps a reader can add up in their
// head.
double nice_step(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1.0;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / magnitude;
  double nice = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0;
  return nice * magnitude;
}

// Enough decimals that neighbouring ticks read differently.
int decimals_for(double step) {
  int d = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  return std::clamp(d, 0, 10);
}

// Fixed notation while it stays short (losses, accuracies, learning rates down to 1e-4); tiny
// ranges, such as the last epochs of a one-cycle schedule, switch to scientific notation with just
// enough digits to tell neighbouring ticks apart.
std::string tick_text(double v, double step, double largest) {
  if (std::abs(v) < step * 1e-6) v = 0;  // no "-0.00"
  const int decimals = decimals_for(step);
  if (decimals <= 5) return fmt::format("{:.{}f}", v, decimals);
  const int digits =
      static_cast<int>(std::floor(std::log10(largest)) - std::floor(std::log10(step)));
  return fmt::format("{:.{}e}", v, std::clamp(digits, 0, 6));
}

struct Axis {
  double lo = 0, hi = 1;
  std::vector<double> ticks;
  double step = 1;

  std::string label(double v) const {
    return tick_text(v, step, std::max(std::abs(lo), std::abs(hi)));
  }

  double to_x(double v) const { return kPlotX0 + (v - lo) / (hi - lo) * (kPlotX1 - kPlotX0); }
  double to_y(double v) const { return kPlotY1 - (v - lo) / (hi - lo) * (kPlotY1 - kPlotY0); }
};

// y axis: the data range widened to whole tick steps, about five ticks.
Axis value_axis(double lo, double hi) {
  if (lo == hi) {
    double pad = lo == 0 ? 0.5 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  Axis axis;
  double step = nice_step((hi - lo) / 5.0);
  axis.lo = std::floor(lo / step + 1e-9) * step;
  axis.hi = std::ceil(hi / step - 1e-9) * step;
  int count = static_cast<int>(std::lround((axis.hi - axis.lo) / step));
  for (int i = 0; i <= count; ++i) axis.ticks.push_back(axis.lo + i * step);
  axis.step = step;
  return axis;
}

// x axis: the data range itself (a single epoch gets half an epoch either side), ticks at
// multiples of a nice step, whole numbers only for epochs.
Axis position_axis(double lo, double hi, bool integer) {
  Axis axis;
  if (lo == hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  axis.lo = lo;
  axis.hi = hi;
  double step = nice_step((hi - lo) / 8.0);
  if (integer) step = std::max(1.0, step);
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step; t += step) {
    axis.ticks.push_back(t);
  }
  axis.step = step;
  return axis;
}

// Legend text width is estimated (SVG has no layout); 6.4 px per character suits 11 px sans-serif.
double text_width(const std::string& s) {
  return 6.4 * static_cast<double>(s.size());
}

}  // namespace

std::string svg_line_chart(const ChartSpec& spec) {
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin;
  double ymin = xmin, ymax = -xmin;
  for (const ChartSeries& s : spec.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]);
      ymax = std::max(ymax, s.y[i]);
    }
  }

  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {} {}\" "
                 "role=\"img\" aria-label=\"{}\">\n",
                 kWidth, kHeight, html_escape(spec.y_label + " per " + spec.x_label));
  fmt::format_to(o, "<rect class=\"plot-bg\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\n",
                 kPlotX0, kPlotY0, kPlotX1 - kPlotX0, kPlotY1 - kPlotY0);

  const bool empty = !std::isfinite(xmin);
  if (empty) {
    fmt::format_to(
        o, "<text class=\"note\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
        (kPlotX0 + kPlotX1) / 2, (kPlotY0 + kPlotY1) / 2, html_escape(spec.empty_note));
    xmin = 1;
    xmax = 1;
    ymin = 0;
    ymax = 1;
  }
  const Axis ax = position_axis(xmin, xmax, spec.integer_x);
  const Axis ay = value_axis(ymin, ymax);

  // Grid and tick labels.
  for (double t : ay.ticks) {
    double y = ay.to_y(t);
    fmt::format_to(o, "<line class=\"grid\" x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\"/>\n",
                   kPlotX0, y, kPlotX1, y);
    fmt::format_to(o,
                   "<text class=\"tick\" x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" "
                   "dominant-baseline=\"middle\">{}</text>\n",
                   kPlotX0 - 6, y, ay.label(t));
  }
  for (double t : ax.ticks) {
    double x = ax.to_x(t);
    fmt::format_to(o, "<line class=\"axis\" x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\"/>\n", x,
                   kPlotY1, x, kPlotY1 + 5);
    fmt::format_to(o,
                   "<text class=\"tick\" x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                   x, kPlotY1 + 18, ax.label(t));
  }
  fmt::format_to(o, "<line class=\"axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", kPlotX0,
                 kPlotY0, kPlotY1);
  fmt::format_to(o, "<line class=\"axis\" x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\"/>\n", kPlotX0,
                 kPlotX1, kPlotY1);
  fmt::format_to(o,
                 "<text class=\"label\" x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                 (kPlotX0 + kPlotX1) / 2, kHeight - 8, html_escape(spec.x_label));
  fmt::format_to(o,
                 "<text class=\"label\" transform=\"translate(13 {:.1f}) rotate(-90)\" "
                 "text-anchor=\"middle\">{}</text>\n",
                 (kPlotY0 + kPlotY1) / 2, html_escape(spec.y_label));

  if (!empty && spec.marker_x > 0 && spec.marker_x >= ax.lo && spec.marker_x <= ax.hi) {
    double x = ax.to_x(spec.marker_x);
    fmt::format_to(o,
                   "<line class=\"marker\" x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\"/>\n",
                   x, kPlotY0, kPlotY1);
    // Keep the label inside the plot near the right edge.
    bool right = x > kPlotX1 - 60;
    fmt::format_to(
        o, "<text class=\"marker-label\" x=\"{:.1f}\" y=\"{}\" text-anchor=\"{}\">{}</text>\n",
        right ? x - 4 : x + 4, kPlotY0 + 12, right ? "end" : "start",
        html_escape(spec.marker_label));
  }

  // Series: one polyline per run of finite values, so a gap stays a gap.
  for (const ChartSeries& s : spec.series) {
    const size_t n = std::min(s.x.size(), s.y.size());
    std::string style = fmt::format(
        "fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-opacity=\"{}\" "
        "stroke-linejoin=\"round\" stroke-linecap=\"round\"{}",
        s.color, s.stroke_width, s.opacity, s.dashed ? " stroke-dasharray=\"6 4\"" : "");
    size_t i = 0;
    while (i < n) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.x[i])) {
        ++i;
        continue;
      }
      size_t end = i;
      while (end < n && std::isfinite(s.y[end]) && std::isfinite(s.x[end])) ++end;
      std::string points;
      for (size_t k = i; k < end; ++k) {
        fmt::format_to(std::back_inserter(points), "{}{:.1f},{:.1f}", k == i ? "" : " ",
                       ax.to_x(s.x[k]), ay.to_y(s.y[k]));
      }
      fmt::format_to(o, "<polyline class=\"series\" data-series=\"{}\" points=\"{}\" {}/>\n",
                     html_escape(s.label), points, style);
      if (s.markers || end - i == 1) {
        for (size_t k = i; k < end; ++k) {
          fmt::format_to(o,
                         "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.6\" fill=\"{}\" "
                         "fill-opacity=\"{}\"/>\n",
                         ax.to_x(s.x[k]), ay.to_y(s.y[k]), s.color, s.opacity);
        }
      }
      i = end;
    }
  }

  // Legend in the top margin, right-aligned, so it never covers a curve.
  std::vector<const ChartSeries*> legend;
  for (const ChartSeries& s : spec.series) {
    if (s.in_legend) legend.push_back(&s);
  }
  double total = 0;
  for (const ChartSeries* s : legend) total += 26 + text_width(s->label) + 14;
  double x = std::max(kPlotX0, kPlotX1 - total + 14);
  for (const ChartSeries* s : legend) {
    const double y = kTop - 14;
    fmt::format_to(o,
                   "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{2:.1f}\" y2=\"{1}\" stroke=\"{3}\" "
                   "stroke-width=\"{4}\"{5}/>\n",
                   x, y, x + 20, s->color, std::max(2.0, s->stroke_width),
                   s->dashed ? " stroke-dasharray=\"6 4\"" : "");
    fmt::format_to(
        o, "<text class=\"legend\" x=\"{:.1f}\" y=\"{}\" dominant-baseline=\"middle\">{}</text>\n",
        x + 26, y, html_escape(s->label));
    x += 26 + text_width(s->label) + 14;
  }
  out += "</svg>\n";
  return out;
}

}  // namespace keel::train::report_detail
