// write_features (see titanic/features.h), the files of `titanic_train --features-only`: the
// wrangled tables with their group survival columns, and the PNG images of the selection.
#include <filesystem>

#include "keel/data/square_image.h"
#include "titanic/features.h"
#include "titanic/fold_features.h"

namespace keel::data {

FeatureOutputs write_features(const std::string& data_dir, const std::string& out_dir,
                              const FeatureSelection& selection) {
  namespace fs = std::filesystem;
  FeatureOutputs out;
  const FeatureSource source(load_titanic(data_dir));
  out.notes = source.tables().notes;
  // Every labelled row is known, as for a run's test rows; a train row still never counts its
  // own label (leave-one-out inside group_survival_table).
  const std::vector<int64_t> all = source.all_train_rows();
  const Table train = source.labelled_train_table(all);
  const Table test = source.test_table(all);
  FeatureRanking ranking;
  out.features = source.select(selection, all, &ranking);
  if (selection.method == FeatureSelection::Method::logistic_ranking) out.ranking = ranking;

  out.train_csv = (fs::path(out_dir) / "titanic_train_wrangled.csv").string();
  out.test_csv = (fs::path(out_dir) / "titanic_test_wrangled.csv").string();
  write_table_csv(train, out.train_csv);
  write_table_csv(test, out.test_csv);

  out.side = image_side(static_cast<int64_t>(out.features.size()));
  out.train_images = write_png_images(train, out.features, out_dir, ImageSplit::train);
  out.test_images = write_png_images(test, out.features, out_dir, ImageSplit::test);
  return out;
}

}  // namespace keel::data
