// Fuzz target: the Kaggle CSV reader and the feature pipeline behind it. An input is a train.csv,
// a NUL byte and a test.csv; both go through read_kaggle_csv, then wrangling, the feature columns
// and the square-image encoding, as titanic_train does. keel::Error is the expected way to refuse
// an input; anything else (a crash, a sanitizer report, another exception) is a finding.
#include <cstdint>

#include "fuzz_util.h"
#include "keel/data/square_image.h"
#include "keel/error.h"
#include "titanic/csv.h"
#include "titanic/features.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static keel::fuzz::ScratchDir dir;
  const auto [train_text, test_text] = keel::fuzz::split_at_nul(data, size);
  const std::string train_path = dir.write("train.csv", train_text);
  const std::string test_path = dir.write("test.csv", test_text);
  try {
    using keel::data::KaggleSplit;
    const auto train = keel::data::read_kaggle_csv(train_path, KaggleSplit::train);
    const auto test = keel::data::read_kaggle_csv(test_path, KaggleSplit::test);
    const keel::data::TitanicTables tables = keel::data::wrangle_titanic(train, test);
    const std::vector<std::string> features = keel::data::feature_columns(tables.train);
    keel::data::encode_images(tables.train, features, 1);
    keel::data::encode_images(tables.test, features, 1);
    keel::data::survived_labels(tables.train);
  } catch (const keel::Error&) {
  }
  return 0;
}
