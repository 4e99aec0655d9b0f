// Tests of report.html: one self-contained page whose charts have a point per epoch, whose
// confusion counts and top-loss PNGs are really there, and whose config text is escaped.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <stb/stb_image.h>

#include "keel/error.h"
#include "titanic/report.h"

namespace fs = std::filesystem;
using namespace keel::train;

namespace {

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// The `points` attributes of every polyline whose data-series is `series`, as point counts.
std::vector<size_t> polyline_point_counts(const std::string& html, const std::string& series) {
  std::vector<size_t> counts;
  const std::regex re("<polyline class=\"series\" data-series=\"" + series +
                      "\" points=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator();
       ++it) {
    std::istringstream points((*it)[1].str());
    size_t n = 0;
    for (std::string pair; points >> pair;) {
      EXPECT_NE(pair.find(','), std::string::npos) << pair;
      ++n;
    }
    counts.push_back(n);
  }
  return counts;
}

std::string base64_decode(const std::string& text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  EXPECT_EQ(text.size() % 4, 0u);
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    int v = value(c);
    EXPECT_GE(v, 0) << "not base64: " << c;
    if (v < 0) return {};
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

std::vector<std::string> image_payloads(const std::string& html) {
  std::vector<std::string> payloads;
  const std::regex re("<img src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator();
       ++it) {
    payloads.push_back((*it)[1].str());
  }
  return payloads;
}

// A 6x6 (or C x H x W) image whose pixel i has value i / (n - 1): every pixel distinct.
TopLossImage ramp_image(int channels, int height, int width, int row) {
  TopLossImage image;
  image.channels = channels;
  image.height = height;
  image.width = width;
  const size_t n = static_cast<size_t>(channels) * height * width;
  for (size_t i = 0; i < n; ++i) image.pixels.push_back(static_cast<float>(i) / float(n - 1));
  image.row = row;
  image.label = row % 2;
  image.predicted = 1 - row % 2;
  image.prob_true = 0.125;
  image.loss = 2.0794;
  return image;
}

ReportInputs make_inputs(int epochs, int folds, bool with_validation) {
  ReportInputs in;
  in.title = "titanic small_cnn";
  for (int fold = 0; fold < folds; ++fold) {
    for (int e = 1; e <= epochs; ++e) {
      EpochRecord r;
      r.epoch = e;
      r.fold = fold;
      r.train_loss = 0.7 / (1.0 + 0.1 * e) + 0.01 * fold;
      if (with_validation) {
        r.val_loss = 0.65 / (1.0 + 0.05 * e) + 0.02 * fold;
        r.val_accuracy = 0.6 + 0.2 * e / epochs - 0.01 * fold;
      }
      r.lr = 3e-3 * std::sin(3.14159 * e / (epochs + 1));
      r.beta1 = 0.95 - 0.1 * std::sin(3.14159 * e / (epochs + 1));
      r.seconds = 0.3;
      in.epochs.push_back(r);
    }
  }
  if (with_validation) {
    in.confusion[0][0] = 97;
    in.confusion[0][1] = 13;
    in.confusion[1][0] = 21;
    in.confusion[1][1] = 48;
  }
  in.resolved_config_yaml =
      "model:\n  name: \"<script>alert('x')</script> & co\"\ntrain:\n  epochs: 30\n";
  in.layer_table = {"#  layer         output        params", "0  conv2d<3x3>   (32, 6, 6)    320"};
  in.summary.device = "cpu";
  in.summary.keel_version = "0.1.0";
  in.summary.git_commit = "0123456789ab";
  in.summary.epochs = epochs;
  in.summary.steps = 11 * epochs;
  in.summary.train_seconds = 4.25;
  in.summary.ms_per_step = 12.5;
  in.summary.val_accuracy = with_validation ? 0.8101 : std::nan("");
  in.summary.best_epoch = with_validation ? epochs - 1 : 0;
  return in;
}

}  // namespace

TEST(ReportTest, PageIsOneSelfContainedHtmlDocument) {
  const std::string html = report_html(make_inputs(12, 1, true));
  EXPECT_EQ(count_of(html, "<!DOCTYPE html>"), 1u);
  EXPECT_EQ(count_of(html, "<html"), 1u);
  EXPECT_EQ(count_of(html, "</html>"), 1u);
  EXPECT_EQ(count_of(html, "<body>"), 1u);
  EXPECT_EQ(count_of(html, "</body>"), 1u);
  EXPECT_EQ(count_of(html, "<svg"), count_of(html, "</svg>"));
  EXPECT_EQ(count_of(html, "<section"), count_of(html, "</section>"));
  EXPECT_EQ(count_of(html, "<table"), count_of(html, "</table>"));
  EXPECT_EQ(count_of(html, "<pre"), count_of(html, "</pre>"));
  // Nothing fetched from elsewhere and nothing to execute; the SVG namespace is only a name.
  EXPECT_EQ(count_of(html, "<script"), 0u);
  EXPECT_EQ(count_of(html, "<link"), 0u);
  EXPECT_EQ(count_of(html, "https://"), 0u);
  EXPECT_EQ(count_of(html, "http://"), count_of(html, "xmlns=\"http://www.w3.org/2000/svg\""));
}

TEST(ReportTest, ChartsHaveOnePointPerEpoch) {
  const int epochs = 12;
  const std::string html = report_html(make_inputs(epochs, 1, true));
  EXPECT_GE(count_of(html, "<svg"), 3u);
  for (const char* series :
       {"train loss", "validation loss", "validation accuracy", "learning rate", "beta1"}) {
    const auto counts = polyline_point_counts(html, series);
    ASSERT_EQ(counts.size(), 1u) << series;
    EXPECT_EQ(counts[0], static_cast<size_t>(epochs)) << series;
  }
  // Axes carry labels and the kept epoch is marked.
  EXPECT_NE(html.find(">cross-entropy loss</text>"), std::string::npos);
  EXPECT_NE(html.find(">epoch</text>"), std::string::npos);
  EXPECT_NE(html.find("kept epoch 11"), std::string::npos);
}

TEST(ReportTest, SeveralFoldsAreDrawnWithTheirMean) {
  const int epochs = 8, folds = 3;
  const std::string html = report_html(make_inputs(epochs, folds, true));
  const auto mean = polyline_point_counts(html, "validation accuracy \\(mean of 3 folds\\)");
  ASSERT_EQ(mean.size(), 1u);
  EXPECT_EQ(mean[0], static_cast<size_t>(epochs));
  for (int fold = 0; fold < folds; ++fold) {
    const auto counts =
        polyline_point_counts(html, "validation accuracy \\(fold " + std::to_string(fold) + "\\)");
    ASSERT_EQ(counts.size(), 1u) << fold;
    EXPECT_EQ(counts[0], static_cast<size_t>(epochs));
  }
}

TEST(ReportTest, RunWithoutValidationAndASingleEpochStillRenders) {
  const std::string html = report_html(make_inputs(1, 1, false));
  const auto train = polyline_point_counts(html, "train loss");
  ASSERT_EQ(train.size(), 1u);
  EXPECT_EQ(train[0], 1u);
  EXPECT_TRUE(polyline_point_counts(html, "validation loss").empty());
  EXPECT_TRUE(polyline_point_counts(html, "validation accuracy").empty());
  EXPECT_NE(html.find("no validation set"), std::string::npos);
  // A lone point is drawn as a dot, and no coordinate is NaN.
  EXPECT_NE(html.find("<circle"), std::string::npos);
  EXPECT_FALSE(std::regex_search(html, std::regex("\\b(nan|inf)\\b", std::regex::icase)));
}

TEST(ReportTest, MissingValuesSplitALine) {
  ReportInputs in = make_inputs(10, 1, true);
  in.epochs[4].val_loss = std::nan("");
  const std::string html = report_html(in);
  const auto counts = polyline_point_counts(html, "validation loss");
  EXPECT_EQ(counts, (std::vector<size_t>{4, 5}));
}

TEST(ReportTest, ConfusionMatrixShowsTheCounts) {
  const std::string html = report_html(make_inputs(5, 1, true));
  for (const char* count : {">97<small>", ">13<small>", ">21<small>", ">48<small>"}) {
    EXPECT_NE(html.find(count), std::string::npos) << count;
  }
  EXPECT_NE(html.find(">died</th>"), std::string::npos);
  EXPECT_NE(html.find(">survived</th>"), std::string::npos);
  // 145 of 179 correct.
  EXPECT_NE(html.find("145 of 179 correct"), std::string::npos);
}

TEST(ReportTest, TopLossImagesAreEmbeddedPngsOfTheUpscaledImage) {
  ReportInputs in = make_inputs(5, 1, true);
  for (int i = 0; i < 4; ++i) in.top_losses.push_back(ramp_image(1, 6, 6, 100 + i));
  in.top_losses.push_back(ramp_image(3, 5, 7, 200));
  const std::string html = report_html(in);

  const auto payloads = image_payloads(html);
  ASSERT_EQ(payloads.size(), in.top_losses.size());
  for (size_t k = 0; k < payloads.size(); ++k) {
    const TopLossImage& src = in.top_losses[k];
    const std::string png = base64_decode(payloads[k]);
    int w = 0, h = 0, comp = 0;
    unsigned char* pixels =
        stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()),
                              static_cast<int>(png.size()), &w, &h, &comp, 0);
    ASSERT_NE(pixels, nullptr) << "image " << k << " is not a readable PNG";
    const int scale = kReportImagePixels / std::max(src.height, src.width);
    EXPECT_EQ(w, src.width * scale);
    EXPECT_EQ(h, src.height * scale);
    EXPECT_EQ(comp, src.channels);
    // Nearest neighbour: every output pixel equals its source feature, channel by channel.
    for (int y : {0, scale - 1, scale, h - 1}) {
      for (int x : {0, scale - 1, scale, w - 1}) {
        for (int c = 0; c < comp; ++c) {
          const float v =
              src.pixels[(static_cast<size_t>(c) * src.height + y / scale) * src.width + x / scale];
          EXPECT_EQ(pixels[(static_cast<size_t>(y) * w + x) * comp + c],
                    static_cast<int>(std::lround(v * 255.0f)))
              << "image " << k << " at (" << x << ", " << y << ", " << c << ")";
        }
      }
    }
    stbi_image_free(pixels);
  }
  // fastai-style caption: predicted / actual / loss / probability; row 100 is "died", predicted
  // "survived".
  EXPECT_NE(html.find("survived</span> / died / 2.08 / 0.12"), std::string::npos);
  EXPECT_NE(html.find("row 100"), std::string::npos);
}

TEST(ReportTest, MismatchedImageBufferIsAnError) {
  ReportInputs in = make_inputs(3, 1, true);
  TopLossImage bad = ramp_image(1, 6, 6, 1);
  bad.pixels.pop_back();
  in.top_losses.push_back(bad);
  EXPECT_THROW(report_html(in), keel::Error);
}

TEST(ReportTest, ConfigAndLayerTableAreEscaped) {
  const std::string html = report_html(make_inputs(3, 1, true));
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"),
            std::string::npos);
  EXPECT_NE(html.find("conv2d&lt;3x3&gt;   (32, 6, 6)"), std::string::npos);
  EXPECT_NE(html.find("epochs: 30"), std::string::npos);
}

TEST(ReportTest, WriteReportHtmlWritesThePageAtomically) {
  const fs::path dir = fs::temp_directory_path() / ("keel_report_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const ReportInputs in = make_inputs(4, 1, true);
  write_report_html((dir / "report.html").string(), in);
  std::ifstream file(dir / "report.html", std::ios::binary);
  std::stringstream ss;
  ss << file.rdbuf();
  EXPECT_EQ(ss.str(), report_html(in));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u);
  fs::remove_all(dir);
}
