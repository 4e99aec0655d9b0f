// Tests of Titanic feature engineering: every cell of the wrangled tables against the pandas
// reference files, the written CSVs byte for byte, and each §1 rule on a small hand-made table.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "data/data_test_util.h"
#include "keel/data/table.h"
#include "keel/error.h"
#include "support/test_util.h"
#include "titanic/csv.h"
#include "titanic/features.h"
#include "titanic/group_survival.h"

namespace keel::data {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path reference(const char* name) { return fs::path(testing::data_dir()) / "reference" / name; }

// Asserts that two tables have the same columns in the same order and the same value in every cell.
void expect_same_table(const Table& got, const Table& want, const char* what) {
  ASSERT_EQ(got.columns(), want.columns()) << what;
  ASSERT_EQ(got.num_rows(), want.num_rows()) << what;
  int64_t mismatches = 0;
  for (int64_t r = 0; r < want.num_rows(); ++r) {
    for (int64_t c = 0; c < want.num_columns(); ++c) {
      if (got.at(r, c) != want.at(r, c)) {
        if (++mismatches <= 10) {
          ADD_FAILURE() << what << " row " << r << " column " << want.columns()[static_cast<size_t>(c)]
                        << ": keel " << got.at(r, c) << ", reference " << want.at(r, c);
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << what;
}

TEST(TitanicFeatures, EveryCellMatchesTheReference) {
  TitanicTables t = load_titanic(testing::data_dir());
  Table ref_train = read_table_csv(reference("titanic_train_wrangled.csv").string());
  Table ref_test = read_table_csv(reference("titanic_test_wrangled.csv").string());
  EXPECT_EQ(ref_train.num_columns(), 49);
  EXPECT_EQ(ref_test.num_columns(), 48);
  expect_same_table(t.train, ref_train, "train");
  expect_same_table(t.test, ref_test, "test");
}

TEST(TitanicFeatures, WrittenCsvsEqualTheReferenceByteForByte) {
  TitanicTables t = load_titanic(testing::data_dir());
  EXPECT_EQ(format_table_csv(t.train), read_bytes(reference("titanic_train_wrangled.csv")));
  EXPECT_EQ(format_table_csv(t.test), read_bytes(reference("titanic_test_wrangled.csv")));
}

TEST(TitanicFeatures, TableCsvRoundTrip) {
  TempDir dir;
  Table t({"passengerid", "survived", "x"});
  t.add_row({1, 0, 2.5});
  t.add_row({2, 1, -3});
  const std::string path = (dir.path() / "sub" / "t.csv").string();
  write_table_csv(t, path);  // creates the missing folder
  EXPECT_EQ(read_bytes(path), "passengerid,survived,x\n1,0.0,2.5\n2,1.0,-3\n");
  Table back = read_table_csv(path);
  expect_same_table(back, t, "round trip");
  // No temporary file is left next to the result.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path() / "sub")) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1);
}

TEST(TitanicFeatures, ReadTableCsvReportsBadCells) {
  TempDir dir;
  const std::string path = dir.write("t.csv", "a,b\n1,2\n3,x\n");
  try {
    read_table_csv(path);
    FAIL() << "expected a data error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::data);
    EXPECT_NE(std::string(e.what()).find(path + ", line 3, column 2 (b)"), std::string::npos) << e.what();
  }
}

TEST(TitanicFeatures, ReadTableCsvSkipsBlankLinesAndRefusesDuplicateNames) {
  TempDir dir;
  Table t = read_table_csv(dir.write("blank.csv", "\na,b\r\n1,2\r\n\r\n  \r\n3,4\r\n\r"));
  ASSERT_EQ(t.num_rows(), 2);
  EXPECT_EQ(t.at(1, 1), 4.0);

  const std::string path = dir.write("dup.csv", "a,b,a\n1,2,3\n");
  try {
    read_table_csv(path);
    FAIL() << "expected a data error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::data);
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path + ", line 1, column 3 (a)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("appears twice"), std::string::npos) << msg;
  }
}

// The Kaggle files with one column more in each, and blank lines: the same features, and one note
// per file naming the column that was left out.
TEST(TitanicFeatures, ExtraColumnsAndBlankLinesChangeNoFeature) {
  TempDir dir;
  auto with_extra_column = [](const std::string& text) {
    std::string out;
    size_t start = 0;
    bool header = true;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start);
      const bool cr = !line.empty() && line.back() == '\r';
      if (cr) line.pop_back();
      out += line + (header ? ",Lifeboat" : ",13") + (cr ? "\r\n" : "\n");
      header = false;
      start = end + 1;
    }
    return out + "\r\n\r\n";
  };
  fs::create_directories(dir.path() / "data");
  dir.write("data/train.csv", with_extra_column(read_bytes(fs::path(testing::data_dir()) / "train.csv")));
  dir.write("data/test.csv", with_extra_column(read_bytes(fs::path(testing::data_dir()) / "test.csv")));
  TitanicTables changed = load_titanic((dir.path() / "data").string());
  TitanicTables plain = load_titanic(testing::data_dir());
  EXPECT_EQ(format_table_csv(changed.train), format_table_csv(plain.train));
  EXPECT_EQ(format_table_csv(changed.test), format_table_csv(plain.test));
  EXPECT_TRUE(plain.notes.empty());
  ASSERT_EQ(changed.notes.size(), 2u);
  EXPECT_NE(changed.notes[0].find("train.csv: ignored 1 column the pipeline does not use: "
                                  "\"Lifeboat\" (column 13)"),
            std::string::npos) << changed.notes[0];
  EXPECT_NE(changed.notes[1].find("test.csv: ignored 1 column the pipeline does not use: "
                                  "\"Lifeboat\" (column 12)"),
            std::string::npos) << changed.notes[1];
}

TEST(TitanicFeatures, TitleExtraction) {
  EXPECT_EQ(extract_title("Braund, Mr. Owen Harris"), "Mr");
  EXPECT_EQ(extract_title("Rothes, the Countess. of (Lucy Noel Martha Dyer-Edwards)"), "Countess");
  EXPECT_EQ(extract_title("Oliva y Ocana, Dona. Fermina"), "Dona");
  // The first space-letters-dot run wins, and "St.Louis" has no space before its letters.
  EXPECT_EQ(extract_title("Smith, Mr. John Jr. St.Louis"), "Mr");
  EXPECT_FALSE(extract_title("Smith John").has_value());
  EXPECT_FALSE(extract_title("Smith, .Mr").has_value());
  EXPECT_EQ(title_group("Ms"), "mme");
  EXPECT_EQ(title_group("Mlle"), "miss");
  EXPECT_EQ(title_group("Jonkheer"), "royalty_male");
  EXPECT_EQ(title_group("Lady"), "royalty_female");
  EXPECT_EQ(title_group("Rev"), "officer");
  EXPECT_FALSE(title_group("Prof").has_value());
}

// A six-passenger train file and a three-passenger test file, each row chosen to exercise one rule
// of §1; the expected values below are worked out by hand from the recipe.
class TitanicRules : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string train_text =
        "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\r\n"
        "1,0,3,\"Ash, Mr. Xavier\",male,30,0,0,100,10,,S\r\n"
        "2,1,1,\"Birch, Mrs. Yvonne\",female,28,0,0,PC 100,60,C12,C\r\n"
        "3,1,3,\"Cedar, Master. Zack\",male,,1,1,100,20,,Q\r\n"
        "4,0,2,\"Dogwood, Mr. Walter\",male,,0,0,100,13,,S\r\n"
        "5,1,2,\"Elm, Miss. Vera\",female,70,0,0,A/5 100,13,E1,\r\n"
        "6,0,1,\"Fir, Dr. Ulrich\",male,60,0,0,LINE,0,T,S\r\n";
    const std::string test_text =
        "PassengerId,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\r\n"
        "7,3,\"Gum, Mr. Tom\",male,60,0,0,200,8,,S\r\n"
        "8,3,\"Hazel, Mr. Sam\",male,56,0,0,300,12,,S\r\n"
        "9,3,\"Ivy, Mr. Rob\",male,20,0,0,LINE,,,S\r\n";
    train_ = read_kaggle_csv(dir_.write("train.csv", train_text), KaggleSplit::train);
    test_ = read_kaggle_csv(dir_.write("test.csv", test_text), KaggleSplit::test);
    tables_ = wrangle_titanic(train_, test_);
  }
  double train(int64_t row, const std::string& col) const {
    return tables_.train.at(row, tables_.train.column_index(col));
  }
  double test(int64_t row, const std::string& col) const {
    return tables_.test.at(row, tables_.test.column_index(col));
  }

  TempDir dir_;
  KaggleTable train_, test_;
  TitanicTables tables_;
};

TEST_F(TitanicRules, ColumnsFollowTheRecipeOrder) {
  // Plain-value dummies only for values present (pandas.get_dummies); bins always complete.
  const std::vector<std::string> want = {
      "passengerid", "survived", "psex", "pclass_1", "pclass_2", "pclass_3", "title_master",
      "title_miss", "title_mr", "title_mrs", "title_officer", "sex_female", "sex_male",
      "age_cat_missing", "age_cat_child", "age_cat_teenager", "age_cat_young_adult",
      "age_cat_adult", "age_cat_senior", "family_1", "family_3", "ticket_group",
      "fare_cat_missing", "fare_cat_0-12", "fare_cat_12-50", "fare_cat_50-100", "fare_cat_100+",
      "cabin_type_c", "cabin_type_e", "cabin_type_t", "cabin_type_n", "embarked_c", "embarked_q",
      "embarked_s"};
  EXPECT_EQ(tables_.train.columns(), want);
  std::vector<std::string> test_want = want;
  test_want.erase(test_want.begin() + 1);
  EXPECT_EQ(tables_.test.columns(), test_want);
  EXPECT_EQ(tables_.train.num_rows(), 6);
  EXPECT_EQ(tables_.test.num_rows(), 3);
  EXPECT_EQ(feature_columns(tables_.test).size(), want.size() - 2);
  EXPECT_EQ(survived_labels(tables_.train), (std::vector<int>{0, 1, 1, 0, 1, 0}));
}

TEST_F(TitanicRules, TicketGroups) {
  // 100 new -> 0; female on 100 -> 0; master on 100 -> 0; man on 100 -> new 1 (100 now 1);
  // female on 100 -> 1; LINE = 0 new -> 2; then test: 200 -> 3, 300 -> 4, LINE (a man) -> new 5.
  const double want_train[] = {0, 0, 0, 1, 1, 2};
  for (int r = 0; r < 6; ++r) EXPECT_EQ(train(r, "ticket_group"), want_train[r]) << "row " << r;
  const double want_test[] = {3, 4, 5};
  for (int r = 0; r < 3; ++r) EXPECT_EQ(test(r, "ticket_group"), want_test[r]) << "row " << r;
}

TEST_F(TitanicRules, AgesAndTheirBins) {
  EXPECT_EQ(train(0, "age_cat_young_adult"), 1);  // 30
  EXPECT_EQ(train(2, "age_cat_child"), 1);        // missing master -> 1
  EXPECT_EQ(train(3, "age_cat_missing"), 1);      // missing otherwise -> -0.5
  EXPECT_EQ(train(4, "age_cat_senior"), 1);       // 70
  EXPECT_EQ(train(5, "age_cat_adult"), 1);        // 60 is in (40, 60]
  for (int r = 0; r < 6; ++r) {
    double hot = 0;
    for (const char* c : {"age_cat_missing", "age_cat_child", "age_cat_teenager",
                          "age_cat_young_adult", "age_cat_adult", "age_cat_senior"}) {
      hot += train(r, c);
    }
    EXPECT_EQ(hot, 1) << "row " << r;
  }
}

TEST_F(TitanicRules, FaresAndTheMissingFare) {
  EXPECT_EQ(train(5, "fare_cat_missing"), 1);  // a fare of 0 is in (-1, 0]
  EXPECT_EQ(train(0, "fare_cat_0-12"), 1);     // 10
  EXPECT_EQ(train(3, "fare_cat_12-50"), 1);    // 13
  EXPECT_EQ(train(1, "fare_cat_50-100"), 1);   // 60
  // Passenger 9's fare is the mean of the third-class men aged 55-65 (8 and 12) = 10.
  EXPECT_EQ(test(2, "fare_cat_0-12"), 1);
  EXPECT_EQ(test(2, "fare_cat_missing"), 0);
}

TEST_F(TitanicRules, PlainValueDummies) {
  EXPECT_EQ(train(1, "psex"), 2);  // first class + female
  EXPECT_EQ(train(4, "psex"), 3);
  EXPECT_EQ(train(0, "psex"), 3);
  EXPECT_EQ(train(2, "family_3"), 1);  // 1 + 1 + 1
  EXPECT_EQ(train(2, "title_master"), 1);
  EXPECT_EQ(train(5, "title_officer"), 1);
  EXPECT_EQ(train(1, "cabin_type_c"), 1);
  EXPECT_EQ(train(5, "cabin_type_t"), 1);
  EXPECT_EQ(train(0, "cabin_type_n"), 1);
  EXPECT_EQ(train(4, "embarked_s"), 1);  // a missing port -> S
  EXPECT_EQ(train(2, "embarked_q"), 1);
  EXPECT_EQ(train(1, "survived"), 1);
  EXPECT_EQ(test(0, "passengerid"), 7);
}

// Every line of `ours` is the reference's line, then the group survival columns.
void expect_reference_then_groups(const std::string& ours, const std::string& reference) {
  std::istringstream a(ours), b(reference);
  std::string line, expected, header_tail;
  for (const std::string& name : group_survival_columns()) header_tail += "," + name;
  int lines = 0;
  while (std::getline(b, expected)) {
    ASSERT_TRUE(std::getline(a, line)) << "missing line " << lines;
    if (lines++ == 0) {
      EXPECT_EQ(line, expected + header_tail);
    } else {
      ASSERT_EQ(line.rfind(expected + ",", 0), 0u) << "line " << lines;
    }
  }
  EXPECT_FALSE(std::getline(a, line)) << "extra lines";
}

TEST(TitanicFeatures, WriteFeaturesProducesCsvsAndImages) {
  TempDir out;
  FeatureOutputs r = write_features(testing::data_dir(), out.path().string(), FeatureSelection{});
  expect_reference_then_groups(read_bytes(r.train_csv),
                               read_bytes(reference("titanic_train_wrangled.csv")));
  expect_reference_then_groups(read_bytes(r.test_csv),
                               read_bytes(reference("titanic_test_wrangled.csv")));
  EXPECT_EQ(r.features.size(), 33u);
  EXPECT_EQ(r.side, 6);
  EXPECT_EQ(r.train_images, 891);
  EXPECT_EQ(r.test_images, 418);
  int64_t died = 0, survived = 0, test = 0;
  for (const auto& e : fs::directory_iterator(out.path() / "images" / "train")) {
    const std::string name = e.path().filename().string();
    died += name.rfind("died_", 0) == 0 ? 1 : 0;
    survived += name.rfind("survived_", 0) == 0 ? 1 : 0;
  }
  for (const auto& e : fs::directory_iterator(out.path() / "images" / "test")) {
    test += e.path().extension() == ".png" ? 1 : 0;
  }
  EXPECT_EQ(died, 549);
  EXPECT_EQ(survived, 342);
  EXPECT_EQ(test, 418);
  EXPECT_TRUE(fs::exists(out.path() / "images" / "train" / "died_0.png"));
  EXPECT_TRUE(fs::exists(out.path() / "images" / "train" / "survived_1.png"));
  EXPECT_TRUE(fs::exists(out.path() / "images" / "test" / "417.png"));
  EXPECT_FALSE(r.ranking.has_value());
}

TEST(TitanicFeatures, WriteFeaturesWithARankedSelection) {
  TempDir out;
  FeatureOutputs r =
      write_features(testing::data_dir(), out.path().string(), FeatureSelection::ranked(20));
  ASSERT_TRUE(r.ranking.has_value());
  ASSERT_EQ(r.features.size(), 20u);
  EXPECT_EQ(r.features, std::vector<std::string>(r.ranking->names.begin(), r.ranking->names.begin() + 20));
  EXPECT_EQ(r.side, 5);  // ceil(sqrt(20))
  EXPECT_EQ(r.train_images, 891);
  EXPECT_TRUE(fs::exists(out.path() / "images" / "test" / "0.png"));
}

TEST(TitanicFeatures, MissingDataFolderSaysWhatToDo) {
  TempDir empty;
  try {
    load_titanic(empty.path().string());
    FAIL() << "expected a data error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::data);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("train.csv not found"), std::string::npos) << msg;
    EXPECT_NE(msg.find("run data/fetch_titanic.sh or pass --data"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace keel::data
