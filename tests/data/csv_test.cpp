// Tests of Kaggle CSV reading: the real files parse with quoting, CRLF and missing values intact,
// blank lines and unused columns are passed over, and each kind of malformed file fails with a
// keel::Error naming file, line and column.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "data/data_test_util.h"
#include "keel/error.h"
#include "support/test_util.h"
#include "titanic/csv.h"
#include "titanic/features.h"

namespace keel::data {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const char* kTrainHeader = "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\r\n";
const char* kTestHeader = "PassengerId,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\r\n";
const char* kRow1 = "1,0,3,\"Braund, Mr. Owen Harris\",male,22,1,0,A/5 21171,7.25,,S\r\n";
const char* kRow2 = "2,1,1,\"Cumings, Mrs. John Bradley (Florence Briggs Thayer)\",female,38,1,0,PC 17599,71.2833,C85,C\r\n";

// Runs `f`, expects a data error, and returns its message.
template <typename F>
std::string data_error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::data) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a keel::Error, nothing was thrown";
  return "";
}

std::string train_path() { return (fs::path(testing::data_dir()) / "train.csv").string(); }
std::string test_path() { return (fs::path(testing::data_dir()) / "test.csv").string(); }

TEST(KaggleCsv, ReadsTheKaggleTrainFile) {
  KaggleTable t = read_kaggle_csv(train_path(), KaggleSplit::train);
  ASSERT_EQ(t.rows.size(), 891u);
  int survived = 0;
  for (const auto& p : t.rows) survived += *p.survived;
  EXPECT_EQ(survived, 342);  // Kaggle's known count

  const Passenger& first = t.rows[0];
  EXPECT_EQ(first.passenger_id, 1);
  EXPECT_EQ(first.name, "Braund, Mr. Owen Harris");  // quoted, with a comma
  EXPECT_FALSE(first.female);
  EXPECT_DOUBLE_EQ(*first.age, 22.0);
  EXPECT_EQ(first.sibsp, 1);
  EXPECT_EQ(first.ticket, "A/5 21171");
  EXPECT_DOUBLE_EQ(*first.fare, 7.25);
  EXPECT_TRUE(first.cabin.empty());
  EXPECT_EQ(first.embarked, "S");  // no trailing '\r' from the CRLF line end
  EXPECT_EQ(first.line, 2);

  EXPECT_FALSE(t.rows[5].age.has_value());  // "Moran, Mr. James": empty Age is missing
  EXPECT_EQ(t.rows[22].name, "McGowan, Miss. Anna \"Annie\"");  // doubled quotes unescaped
  EXPECT_EQ(t.rows[61].embarked, "");                             // one of the 2 missing ports
  EXPECT_EQ(t.rows[1].cabin, "C85");
  EXPECT_EQ(t.column_of("Age"), 6);
}

TEST(KaggleCsv, ReadsTheKaggleTestFile) {
  KaggleTable t = read_kaggle_csv(test_path(), KaggleSplit::test);
  ASSERT_EQ(t.rows.size(), 418u);
  EXPECT_EQ(t.rows.front().passenger_id, 892);
  EXPECT_EQ(t.rows.back().passenger_id, 1309);
  EXPECT_FALSE(t.rows.front().survived.has_value());
  int missing_fares = 0;
  for (const auto& p : t.rows) missing_fares += p.fare ? 0 : 1;
  EXPECT_EQ(missing_fares, 1);  // PassengerId 1044
  EXPECT_EQ(t.column_of("Age"), 5);
}

TEST(KaggleCsv, AcceptsLfLineEndsAndAnyColumnOrder) {
  TempDir dir;
  const std::string path = dir.write(
      "train.csv",
      "Name,PassengerId,Survived,Pclass,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n"
      "\"Braund, Mr. Owen Harris\",1,0,3,male,22,1,0,A/5 21171,7.25,,S\n"
      "\"Heikkinen, Miss. Laina\",3,1,3,female,,0,0,STON/O2. 3101282,7.925,,\n");
  KaggleTable t = read_kaggle_csv(path, KaggleSplit::train);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].name, "Braund, Mr. Owen Harris");
  EXPECT_EQ(t.rows[1].passenger_id, 3);
  EXPECT_TRUE(t.rows[1].female);
  EXPECT_FALSE(t.rows[1].age.has_value());
  EXPECT_EQ(t.rows[1].embarked, "");
  EXPECT_EQ(t.column_of("Name"), 1);
}

TEST(KaggleCsvErrors, MissingFileSaysHowToGetIt) {
  TempDir dir;
  std::string msg = data_error_of(
      [&] { read_kaggle_csv((dir.path() / "train.csv").string(), KaggleSplit::train); });
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("run data/fetch_titanic.sh or pass --data"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, EmptyFile) {
  TempDir dir;
  const std::string path = dir.write("train.csv", "");
  std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::train); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, HeaderWithoutRows) {
  TempDir dir;
  const std::string path = dir.write("train.csv", kTrainHeader);
  std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::train); });
  EXPECT_NE(msg.find("no passenger rows"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, MissingColumn) {
  TempDir dir;
  const std::string path = dir.write(
      "train.csv",
      "PassengerId,Survived,Pclass,Name,Sex,SibSp,Parch,Ticket,Fare,Cabin,Embarked\r\n"
      "1,0,3,\"Braund, Mr. Owen Harris\",male,1,0,A/5 21171,7.25,,S\r\n");
  std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::train); });
  EXPECT_NE(msg.find(path + ", line 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no column \"Age\""), std::string::npos) << msg;
}

TEST(KaggleCsv, UnusedColumnsAreIgnoredAndListedForTheNote) {
  TempDir dir;
  const std::string path = dir.write(
      "test.csv",
      "Deck,PassengerId,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked,Notes\r\n"
      "C,892,3,\"Kelly, Mr. James\",male,34.5,0,0,330911,7.8292,,Q,\"quiet, kind\"\r\n");
  KaggleTable t = read_kaggle_csv(path, KaggleSplit::test);
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0].passenger_id, 892);
  EXPECT_EQ(t.rows[0].embarked, "Q");
  EXPECT_EQ(t.column_of("PassengerId"), 2);
  ASSERT_EQ(t.ignored_columns.size(), 2u);
  EXPECT_EQ(ignored_columns_note(t),
            "note: " + path + ": ignored 2 columns the pipeline does not use: \"Deck\" (column 1), "
            "\"Notes\" (column 13)");
  EXPECT_EQ(ignored_columns_note(read_kaggle_csv(test_path(), KaggleSplit::test)), "");
}

TEST(KaggleCsv, BlankLinesAnywhereAreSkipped) {
  TempDir dir;
  const std::string path = dir.write(
      "train.csv", "\r\n" + std::string(kTrainHeader) + "\r\n" + kRow1 + "   \r\n\t\n" + kRow2 +
                       "\r\n  \r\n\r");
  KaggleTable t = read_kaggle_csv(path, KaggleSplit::train);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].line, 4);  // line numbers still count the blank lines
  EXPECT_EQ(t.rows[1].line, 7);
  EXPECT_EQ(t.rows[1].embarked, "C");
}

TEST(KaggleCsvErrors, LineNumbersCountSkippedBlankLines) {
  TempDir dir;
  const std::string path = dir.write(
      "train.csv", std::string(kTrainHeader) + kRow1 + "\r\n\r\n" +
                       "2,1,1,\"Cumings, Mrs. John Bradley\",female,old,1,0,PC 17599,71.2833,C85,C\r\n");
  std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::train); });
  EXPECT_NE(msg.find(path + ", line 5, column 6 (Age)"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, OnlyBlankLinesIsAnEmptyFile) {
  TempDir dir;
  const std::string path = dir.write("train.csv", "\r\n  \n\r\n");
  std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::train); });
  EXPECT_NE(msg.find("empty (no header line)"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, DuplicatedUnusedColumnStillStops) {
  TempDir dir;
  const std::string path = dir.write(
      "test.csv",
      "PassengerId,Deck,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked,Deck\r\n"
      "892,C,3,\"Kelly, Mr. James\",male,34.5,0,0,330911,7.8292,,Q,C\r\n");
  std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::test); });
  EXPECT_NE(msg.find(path + ", line 1, column 13"), std::string::npos) << msg;
  EXPECT_NE(msg.find("column \"Deck\" appears twice in the header (first as column 2)"),
            std::string::npos) << msg;
}

TEST(KaggleCsvErrors, TestFileWithSurvivedLooksSwapped) {
  TempDir dir;
  const std::string path = dir.write("test.csv", std::string(kTrainHeader) + kRow1);
  std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::test); });
  EXPECT_NE(msg.find(path + ", line 1, column 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not swapped"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, MissingColumnAmongUnusedOnes) {
  TempDir dir;
  const std::string path = dir.write(
      "train.csv",
      "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Cost,Cabin,Embarked\r\n"
      "1,0,3,\"Braund, Mr. Owen Harris\",male,22,1,0,A/5 21171,7.25,,S\r\n");
  std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::train); });
  EXPECT_NE(msg.find(path + ", line 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no column \"Fare\""), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, DuplicatedColumn) {
  TempDir dir;
  const std::string path = dir.write(
      "test.csv",
      "PassengerId,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked,Age\r\n"
      "892,3,\"Kelly, Mr. James\",male,34.5,0,0,330911,7.8292,,Q,34.5\r\n");
  std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::test); });
  EXPECT_NE(msg.find("line 1, column 12"), std::string::npos) << msg;
  EXPECT_NE(msg.find("appears twice"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, TrainWithoutSurvived) {
  TempDir dir;
  const std::string path = dir.write(
      "train.csv", std::string(kTestHeader) + "892,3,\"Kelly, Mr. James\",male,34.5,0,0,330911,7.8292,,Q\r\n");
  std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::train); });
  EXPECT_NE(msg.find(path + ", line 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no Survived column"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, NonNumericAgeNamesLineAndColumn) {
  TempDir dir;
  const std::string path = dir.write(
      "train.csv", std::string(kTrainHeader) + kRow1 +
                       "2,1,1,\"Cumings, Mrs. John Bradley\",female,thirty-eight,1,0,PC 17599,71.2833,C85,C\r\n");
  std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::train); });
  EXPECT_NE(msg.find(path + ", line 3, column 6 (Age)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"thirty-eight\" is not a number"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, NonNumericFareSibSpParch) {
  TempDir dir;
  struct Case {
    std::string row;
    std::string where;
  };
  const Case cases[] = {
      {"1,0,3,\"Braund, Mr. Owen Harris\",male,22,1,0,A/5 21171,7.2.5,,S\r\n", "line 2, column 10 (Fare)"},
      {"1,0,3,\"Braund, Mr. Owen Harris\",male,22,one,0,A/5 21171,7.25,,S\r\n", "line 2, column 7 (SibSp)"},
      {"1,0,3,\"Braund, Mr. Owen Harris\",male,22,1,0.5,A/5 21171,7.25,,S\r\n", "line 2, column 8 (Parch)"},
      {"1,0,3,\"Braund, Mr. Owen Harris\",male,22,1,,A/5 21171,7.25,,S\r\n", "line 2, column 8 (Parch)"},
      {"x1,0,3,\"Braund, Mr. Owen Harris\",male,22,1,0,A/5 21171,7.25,,S\r\n", "line 2, column 1 (PassengerId)"},
      {"1,2,3,\"Braund, Mr. Owen Harris\",male,22,1,0,A/5 21171,7.25,,S\r\n", "line 2, column 2 (Survived)"},
      {"1,0,4,\"Braund, Mr. Owen Harris\",male,22,1,0,A/5 21171,7.25,,S\r\n", "line 2, column 3 (Pclass)"},
  };
  for (const Case& c : cases) {
    const std::string path = dir.write("train.csv", std::string(kTrainHeader) + c.row);
    std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::train); });
    EXPECT_NE(msg.find(c.where), std::string::npos) << msg;
  }
}

TEST(KaggleCsvErrors, UnknownSexAndEmbarked) {
  TempDir dir;
  const std::string sex = dir.write(
      "sex.csv", std::string(kTrainHeader) + kRow1 +
                     "2,1,1,\"Cumings, Mrs. John Bradley\",F,38,1,0,PC 17599,71.2833,C85,C\r\n");
  std::string msg = data_error_of([&] { read_kaggle_csv(sex, KaggleSplit::train); });
  EXPECT_NE(msg.find("line 3, column 5 (Sex)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown Sex value \"F\""), std::string::npos) << msg;

  const std::string port = dir.write(
      "port.csv", std::string(kTrainHeader) + kRow1 +
                      "2,1,1,\"Cumings, Mrs. John Bradley\",female,38,1,0,PC 17599,71.2833,C85,X\r\n");
  msg = data_error_of([&] { read_kaggle_csv(port, KaggleSplit::train); });
  EXPECT_NE(msg.find("line 3, column 12 (Embarked)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown Embarked value \"X\""), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, DuplicatePassengerId) {
  TempDir dir;
  const std::string path =
      dir.write("train.csv", std::string(kTrainHeader) + kRow1 + kRow2 +
                                 "1,1,3,\"Heikkinen, Miss. Laina\",female,26,0,0,STON/O2. 3101282,7.925,,S\r\n");
  std::string msg = data_error_of([&] { read_kaggle_csv(path, KaggleSplit::train); });
  EXPECT_NE(msg.find("line 4, column 1 (PassengerId)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("already appeared on line 2"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, RowWithTooManyOrTooFewFields) {
  TempDir dir;
  // The unquoted name's comma makes one field too many.
  const std::string many = dir.write(
      "many.csv", std::string(kTrainHeader) + kRow1 +
                      "2,1,1,Cumings, Mrs. John Bradley,female,38,1,0,PC 17599,71.2833,C85,C\r\n");
  std::string msg = data_error_of([&] { read_kaggle_csv(many, KaggleSplit::train); });
  EXPECT_NE(msg.find(many + ", line 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("more fields"), std::string::npos) << msg;

  const std::string few = dir.write("few.csv", std::string(kTrainHeader) + kRow1 + "2,1,1\r\n");
  msg = data_error_of([&] { read_kaggle_csv(few, KaggleSplit::train); });
  EXPECT_NE(msg.find(few + ", line 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fewer fields"), std::string::npos) << msg;

  const std::string open_quote = dir.write(
      "quote.csv", std::string(kTrainHeader) + kRow1 +
                       "2,1,1,\"Cumings, Mrs. John Bradley,female,38,1,0,PC 17599,71.2833,C85,C\r\n");
  msg = data_error_of([&] { read_kaggle_csv(open_quote, KaggleSplit::train); });
  EXPECT_NE(msg.find(open_quote + ", line 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not closed"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, UnknownTitleNamesThePassenger) {
  TempDir dir;
  const std::string train = dir.write(
      "train.csv", std::string(kTrainHeader) + kRow1 +
                       "2,1,1,\"Cumings, Prof. John Bradley\",male,38,1,0,PC 17599,71.2833,C85,C\r\n");
  const std::string test = dir.write(
      "test.csv", std::string(kTestHeader) + "892,3,\"Kelly, Mr. James\",male,34.5,0,0,330911,7.8292,,Q\r\n");
  KaggleTable tr = read_kaggle_csv(train, KaggleSplit::train);
  KaggleTable te = read_kaggle_csv(test, KaggleSplit::test);
  std::string msg = data_error_of([&] { wrangle_titanic(tr, te); });
  EXPECT_NE(msg.find(train + ", line 3, column 4 (Name)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"Prof\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("Cumings, Prof. John Bradley"), std::string::npos) << msg;

  const std::string no_title = dir.write(
      "test.csv", std::string(kTestHeader) + "892,3,\"Kelly James\",male,34.5,0,0,330911,7.8292,,Q\r\n");
  te = read_kaggle_csv(no_title, KaggleSplit::test);
  KaggleTable ok_train = read_kaggle_csv(dir.write("ok.csv", std::string(kTrainHeader) + kRow1), KaggleSplit::train);
  msg = data_error_of([&] { wrangle_titanic(ok_train, te); });
  EXPECT_NE(msg.find("line 2, column 3 (Name)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"Kelly James\" has no title"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, SamePassengerInTrainAndTest) {
  TempDir dir;
  KaggleTable tr = read_kaggle_csv(dir.write("train.csv", std::string(kTrainHeader) + kRow1),
                                   KaggleSplit::train);
  KaggleTable te = read_kaggle_csv(
      dir.write("test.csv", std::string(kTestHeader) + "1,3,\"Kelly, Mr. James\",male,34.5,0,0,330911,7.8292,,Q\r\n"),
      KaggleSplit::test);
  std::string msg = data_error_of([&] { wrangle_titanic(tr, te); });
  EXPECT_NE(msg.find("line 2, column 1 (PassengerId)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("PassengerId 1 is also on line 2"), std::string::npos) << msg;
}

TEST(KaggleCsvErrors, TicketWithoutNumber) {
  TempDir dir;
  KaggleTable tr = read_kaggle_csv(
      dir.write("train.csv", std::string(kTrainHeader) +
                                 "1,0,3,\"Braund, Mr. Owen Harris\",male,22,1,0,A/5 XYZ,7.25,,S\r\n"),
      KaggleSplit::train);
  KaggleTable te = read_kaggle_csv(
      dir.write("test.csv", std::string(kTestHeader) + "892,3,\"Kelly, Mr. James\",male,34.5,0,0,330911,7.8292,,Q\r\n"),
      KaggleSplit::test);
  std::string msg = data_error_of([&] { wrangle_titanic(tr, te); });
  EXPECT_NE(msg.find("line 2, column 9 (Ticket)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"A/5 XYZ\""), std::string::npos) << msg;
}

}  // namespace
}  // namespace keel::data
