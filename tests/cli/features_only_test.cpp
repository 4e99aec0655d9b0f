// titanic_train --features-only writes the wrangled columns (exactly the pandas reference) and,
// after them, the group survival columns as a run computes them: a train row never reads its own
// label (flipping one passenger's label leaves that passenger's columns as they were and changes
// its group's), and every row reads the train labels (flipping them all swaps survived and died).
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_util.h"
#include "support/test_util.h"
#include "titanic/group_survival.h"

namespace keel::testing {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// PassengerId -> the values of the columns after the first `skip` ones.
std::map<std::string, std::string> tail_columns(const std::vector<std::string>& lines,
                                                size_t skip) {
  std::map<std::string, std::string> out;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t at = 0;
    for (size_t c = 0; c < skip; ++c) at = lines[i].find(',', at) + 1;
    out[lines[i].substr(0, lines[i].find(','))] = lines[i].substr(at);
  }
  return out;
}

// Swaps each "<kind>_survived,<kind>_died" pair of values.
std::string swapped_pairs(const std::string& values) {
  std::vector<std::string> v;
  std::istringstream in(values);
  for (std::string x; std::getline(in, x, ',');) v.push_back(x);
  std::string out;
  for (size_t i = 0; i + 1 < v.size(); i += 2) out += v[i + 1] + "," + v[i] + ",";
  return out.substr(0, out.empty() ? 0 : out.size() - 1);
}

// The Kaggle train.csv with the Survived field (the second) of the given passengers flipped.
std::string flip_labels(const std::string& csv, bool all, const std::string& passenger = "") {
  std::string out;
  const std::vector<std::string> lines = lines_of(csv);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = lines[i];
    const size_t comma = line.find(',');
    if (i > 0 && (all || line.substr(0, comma) == passenger)) {
      line[comma + 1] = line[comma + 1] == '1' ? '0' : '1';
    }
    out += line + "\r\n";
  }
  return out;
}

class FeaturesOnly : public ScratchRunTest {
 protected:
  std::vector<std::string> run(const std::string& out, const char* split) {
    const CliResult r =
        run_titanic_train("--config configs/small_cnn.yaml --features-only --data " + quote(data_) +
                          " --out " + quote(out));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return lines_of(read_text(out + "/titanic_" + split + "_wrangled.csv"));
  }
};

TEST_F(FeaturesOnly, ReferenceColumnsThenGroupSurvivalColumns) {
  for (const char* split : {"train", "test"}) {
    const std::vector<std::string> ours = run(work_ + "/features", split);
    const std::vector<std::string> reference = lines_of(
        read_text(data_dir() + "/reference/titanic_" + std::string(split) + "_wrangled.csv"));
    ASSERT_EQ(ours.size(), reference.size()) << split;
    std::string group_header;
    for (const std::string& name : data::group_survival_columns()) group_header += "," + name;
    EXPECT_EQ(ours[0], reference[0] + group_header) << split;
    for (size_t i = 1; i < ours.size(); ++i) {
      ASSERT_EQ(ours[i].rfind(reference[i] + ",", 0), 0u) << split << " line " << i;
    }
  }
}

TEST_F(FeaturesOnly, ATrainRowNeverReadsItsOwnLabel) {
  const size_t wrangled = 49;  // passengerid, survived and 47 feature columns
  const auto before = tail_columns(run(work_ + "/before", "train"), wrangled);
  // Gosta Palsson (PassengerId 8) travelled with three Palssons of train.csv, all of whom died.
  write_text(data_ + "/train.csv", flip_labels(read_text(data_dir() + "/train.csv"), false, "8"));
  const auto after = tail_columns(run(work_ + "/after", "train"), wrangled);
  EXPECT_EQ(after.at("8"), before.at("8")) << "passenger 8's columns read its own label";
  for (const char* mate : {"25", "375", "568"})
    EXPECT_NE(after.at(mate), before.at(mate)) << "passenger " << mate << " missed 8's new label";
}

TEST_F(FeaturesOnly, EveryRowReadsTheTrainLabels) {
  const auto train = tail_columns(run(work_ + "/before", "train"), 49);
  const auto test = tail_columns(run(work_ + "/before", "test"), 48);
  write_text(data_ + "/train.csv", flip_labels(read_text(data_dir() + "/train.csv"), true));
  const auto flipped_train = tail_columns(run(work_ + "/after", "train"), 49);
  const auto flipped_test = tail_columns(run(work_ + "/after", "test"), 48);
  int known = 0;
  for (const auto& [id, values] : test) {
    EXPECT_EQ(flipped_test.at(id), swapped_pairs(values)) << "test passenger " << id;
    known += values.find('1') != std::string::npos;
  }
  for (const auto& [id, values] : train)
    EXPECT_EQ(flipped_train.at(id), swapped_pairs(values)) << "train passenger " << id;
  EXPECT_GT(known, 100) << "few test passengers have a known group member";
}

}  // namespace
}  // namespace keel::testing
