// What a normal run's summary.json and report.html say beyond the CNN's own scores: the gender-rule
// and logistic-regression baselines on the same validation rows, and, where features depend on
// labels, which feature values the highest-loss images show.
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "keel/data/split.h"
#include "support/test_util.h"
#include "titanic/fold_features.h"

namespace keel::testing {
namespace {

#define EXPECT_HAS(haystack, needle)                               \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "missing `" << (needle) << "` in: " << (haystack)

// The gender rule's accuracy on every row of the Kaggle train.csv, counted here from the file.
double gender_rule_on_all_rows() {
  std::istringstream in(read_text(data_dir() + "/train.csv"));
  std::string line;
  std::getline(in, line);
  int rows = 0, right = 0;
  while (std::getline(in, line)) {
    if (line.size() < 3) continue;
    const bool survived = line[line.find(',') + 1] == '1';
    const size_t name_end = line.find("\",");
    const bool female = line.compare(name_end + 2, 6, "female") == 0;
    right += survived == female;
    ++rows;
  }
  EXPECT_EQ(rows, 891);
  return static_cast<double>(right) / rows;
}

class ReportContents : public ScratchRunTest {
 protected:
  CliResult run(const std::string& args) {
    return run_titanic_train("--config tests/cli/tiny_cnn.yaml --set train.epochs=1 --data " +
                             quote(data_dir()) + " --out " + quote(out_) + " " + args);
  }
};

TEST_F(ReportContents, BaselinesOnTheSameValidationRows) {
  const CliResult r = run("");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto summary = nlohmann::json::parse(read_text(out_ + "/summary.json"));
  ASSERT_TRUE(summary.contains("baselines")) << summary.dump(2);
  // Two stratified folds of 446 and 445 rows: the mean of the folds' gender-rule accuracies is
  // the accuracy on all 891 rows to within a row's share.
  const double gender = summary["baselines"]["gender_rule"]["mean"];
  EXPECT_NEAR(gender, gender_rule_on_all_rows(), 0.002);
  const double logistic = summary["baselines"]["logistic_regression"]["mean"];
  EXPECT_GT(logistic, 0.75);
  EXPECT_LT(logistic, 0.9);
  EXPECT_HAS(r.output, "baselines on the same validation rows: gender rule");
  const std::string report = read_text(out_ + "/report.html");
  EXPECT_HAS(report, fmt::format("<tr><th>baselines</th><td>gender rule {:.4f}", gender));
  EXPECT_EQ(report.find("fitted on that model's training rows"), std::string::npos)
      << "features that read no labels are the same for every model: nothing to say";
}

std::string base64_decode(const std::string& text) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    const size_t v = alphabet.find(c);
    if (v == std::string::npos) break;  // '=' padding ends the data
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

// The report's highest-loss tiles: the train row and its image read back (one value per
// feature square, 0 or 1).
std::map<int64_t, std::vector<float>> report_images(const std::string& html, int side) {
  std::map<int64_t, std::vector<float>> out;
  const std::string start = "<img src=\"data:image/png;base64,", alt = "\" alt=\"row ";
  for (size_t at = html.find(start); at != std::string::npos; at = html.find(start, at + 1)) {
    const size_t data = at + start.size(), end = html.find(alt, data);
    const std::string png = base64_decode(html.substr(data, end - data));
    int w = 0, h = 0, n = 0;
    unsigned char* pixels =
        stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()),
                              static_cast<int>(png.size()), &w, &h, &n, 1);
    EXPECT_NE(pixels, nullptr);
    if (!pixels) continue;
    const int scale = w / side;
    std::vector<float> values;
    for (int y = 0; y < side; ++y) {
      for (int x = 0; x < side; ++x)
        values.push_back(pixels[(y * scale + scale / 2) * w + x * scale + scale / 2] > 127);
    }
    stbi_image_free(pixels);
    out[std::stoll(html.substr(end + alt.size()))] = values;
  }
  return out;
}

// With group survival columns, each fold model's validation rows count only the other fold's
// labels: the report shows the image that model was given, not one fitted on every row.
TEST_F(ReportContents, HighestLossImagesAreTheFoldModelsOwn) {
  const std::vector<std::string> features = {"sex_female",   "pclass_3", "title_mr",
                                             "wcg_survived", "wcg_died", "group_survived",
                                             "group_died"};
  std::string list;
  for (const std::string& f : features) list += (list.empty() ? "" : ",") + f;
  const CliResult r = run("--set data.features=[" + list + "]");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string html = read_text(out_ + "/report.html");
  EXPECT_HAS(html,
             "Each image is the one the model that held the row out was given: its "
             "label-dependent features (group survival columns, a ranking) fitted on that "
             "model&#39;s training rows only.");

  // The folds of tests/cli/tiny_cnn.yaml (seed 3, 2 folds, 1 repeat), rebuilt here.
  const data::FeatureSource source(data::load_titanic(data_dir()));
  const auto selection = data::FeatureSelection::from_list(features);
  const std::vector<int64_t> all = source.all_train_rows();
  const Tensor everyone = data::fold_images(source, selection, 1, all, all).train_images;
  const std::map<int64_t, std::vector<float>> shown = report_images(html, 3);
  ASSERT_EQ(shown.size(), 9u);
  int differ_from_all_rows = 0;
  for (const data::Split& fold : data::repeated_stratified_kfold(source.labels(), 2, 1, 3)) {
    const Tensor images = data::fold_images(source, selection, 1, fold.train, all).train_images;
    for (int64_t row : fold.valid) {
      if (!shown.count(row)) continue;
      EXPECT_EQ(shown.at(row), images.rows(row, row + 1).to_vector()) << "row " << row;
      differ_from_all_rows += shown.at(row) != everyone.rows(row, row + 1).to_vector();
    }
  }
  std::printf("%d of the 9 images differ from those fitted on every row\n", differ_from_all_rows);
  EXPECT_GT(differ_from_all_rows, 0) << "nothing here tells the fold's images from the others";
}

}  // namespace
}  // namespace keel::testing
