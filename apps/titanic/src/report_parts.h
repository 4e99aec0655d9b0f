// The building blocks of report.html, kept apart from the page layout: HTML escaping, base64,
// PNG encoding of a feature image and the SVG line chart.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "titanic/report.h"

namespace keel::train::report_detail {

// Escapes & < > " ' so any text (config values, layer names) is shown literally.
std::string html_escape(std::string_view text);

// Standard base64 (RFC 4648 alphabet, '=' padding), as data: URIs expect.
std::string base64_encode(std::string_view bytes);

// The image as PNG bytes, enlarged by an integer nearest-neighbour factor so that its longer side
// is about `target_pixels` (each feature stays one crisp square). Throws keel::Error when the pixel
// buffer does not match channels x height x width.
std::string encode_png(const TopLossImage& image, int target_pixels);

struct ChartSeries {
  std::string label;         // legend text and the polyline's data-series attribute
  std::string color;         // any CSS colour
  std::vector<double> x, y;  // NaN y values break the line
  double stroke_width = 2.0;
  double opacity = 1.0;
  bool dashed = false;
  bool markers = true;  // a dot per point (isolated points always get one so they stay visible)
  bool in_legend = true;
};

struct ChartSpec {
  std::string x_label = "epoch";
  std::string y_label;
  std::vector<ChartSeries> series;
  bool integer_x = true;  // ticks only at whole numbers (epochs)
  double marker_x = 0;    // > 0: a dashed vertical line there (the kept epoch)
  std::string marker_label;
  std::string empty_note = "no data";  // shown when no series has a finite point
};

// A self-contained inline <svg> with axes, ticks, grid, axis labels and a legend.
std::string svg_line_chart(const ChartSpec& spec);

}  // namespace keel::train::report_detail
