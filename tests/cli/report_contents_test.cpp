// What a normal run's summary.json and report.html say beyond the CNN's own scores: the gender-rule
// and logistic-regression baselines on the same validation rows, and, where features depend on
// labels, which feature values the highest-loss images show.
#include <cmath>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "support/test_util.h"

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

TEST_F(ReportContents, HighestLossImagesAreTheFoldModelsOwn) {
  const CliResult r =
      run("--set data.features=[sex_female,pclass_3,title_mr,wcg_survived,wcg_died]");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_HAS(read_text(out_ + "/report.html"),
             "Each image is the one the model that held the row out was given: its "
             "label-dependent features (group survival columns, a ranking) fitted on that "
             "model&#39;s training rows only.");
}

}  // namespace
}  // namespace keel::testing
