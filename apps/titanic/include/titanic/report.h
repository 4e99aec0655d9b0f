// report.html: one self-contained page that shows how a run went (charts, confusion matrix, the
// validation images the model got most wrong, summary, layer table, resolved config).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "titanic/outputs.h"

namespace keel::train {

// One validation example with a high loss, shown like fastai's plot_top_losses.
struct TopLossImage {
  std::vector<float> pixels;  // (channels, height, width), values in [0, 1]; 1 or 3 channels
  int channels = 1;
  int height = 0;
  int width = 0;
  int row = 0;           // row of the example in the training CSV (or PassengerId), for lookup
  int label = 0;         // true class
  int predicted = 0;     // predicted class
  double prob_true = 0;  // predicted probability of the true class
  double loss = 0;       // cross-entropy of this example
};

struct ReportInputs {
  std::string title = "keel training report";
  std::vector<EpochRecord> epochs;  // every fold's records; several folds are drawn faintly
                                    // with their per-epoch mean in bold
  int64_t confusion[2][2] = {{0, 0}, {0, 0}};  // [true][predicted] over the validation set(s)
  std::vector<std::string> class_names = {"died", "survived"};
  std::vector<TopLossImage> top_losses;  // highest loss first
  std::string top_losses_note;           // which feature values the images show, when models differ
  std::string resolved_config_yaml;
  RunSummary summary;
  std::vector<std::string> layer_table;  // lines of the model's layer table, printed as is
};

// Nearest-neighbour upscaled so that a 6x6 feature image is visible at a glance.
inline constexpr int kReportImagePixels = 96;

// The page as text, and written atomically to `path`.
std::string report_html(const ReportInputs& inputs);
void write_report_html(const std::string& path, const ReportInputs& inputs);

}  // namespace keel::train
