// Tests of the row -> square image encoding: the tensor layout of §3, and PNG files decoded with
// stb_image against both the tensor and the reference feature values.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <stb/stb_image.h>

#include "data/data_test_util.h"
#include "keel/data/square_image.h"
#include "keel/error.h"
#include "support/test_util.h"
#include "titanic/features.h"
#include "titanic/selection.h"

namespace keel::data {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

TEST(SquareImage, SideIsTheCeilingOfTheSquareRoot) {
  EXPECT_EQ(image_side(1), 1);
  EXPECT_EQ(image_side(2), 2);
  EXPECT_EQ(image_side(4), 2);
  EXPECT_EQ(image_side(5), 3);
  EXPECT_EQ(image_side(33), 6);
  EXPECT_EQ(image_side(36), 6);
  EXPECT_EQ(image_side(37), 7);
  EXPECT_EQ(image_side(47), 7);
  EXPECT_THROW(image_side(0), Error);
}

TEST(SquareImage, FeaturesFillColumnByColumn) {
  // Five features -> 3x3; feature k at column k / 3, row k % 3.
  Table t({"passengerid", "a", "b", "c", "d", "e"});
  t.add_row({1, 1, 0, 0, 2.5, -1});  // a, d and e are nonzero
  t.add_row({2, 0, 0, 0, 0, 0});
  Tensor img = encode_images(t, {"a", "b", "c", "d", "e"}, 1);
  ASSERT_EQ(img.shape(), (Shape{2, 1, 3, 3}));
  std::vector<float> v = img.to_vector();
  // Row 0: a -> (x0, y0), d -> (x1, y0), e -> (x1, y1). Index = y * 3 + x.
  const std::vector<float> want0 = {1, 1, 0,  //
                                    0, 1, 0,  //
                                    0, 0, 0};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(v[static_cast<size_t>(i)], want0[static_cast<size_t>(i)]) << i;
  for (int i = 9; i < 18; ++i) EXPECT_EQ(v[static_cast<size_t>(i)], 0.0f) << i;
  EXPECT_EQ(feature_pixel(4, 3).x, 1);
  EXPECT_EQ(feature_pixel(4, 3).y, 1);

  Tensor rgb = encode_images(t, {"a", "b", "c", "d", "e"}, 3);
  ASSERT_EQ(rgb.shape(), (Shape{2, 3, 3, 3}));
  std::vector<float> w = rgb.to_vector();
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 9; ++i) EXPECT_EQ(w[static_cast<size_t>(c * 9 + i)], want0[static_cast<size_t>(i)]);
  }
  EXPECT_THROW(encode_images(t, {"a", "zzz"}, 1), Error);
  EXPECT_THROW(encode_images(t, {"a"}, 2), Error);
}

TEST(SquareImage, PngFilesMatchTheTensorAndTheReferenceFeatures) {
  TitanicTables tables = load_titanic(testing::data_dir());
  Table ref_train = read_table_csv(
      (fs::path(testing::data_dir()) / "reference" / "titanic_train_wrangled.csv").string());
  Table ref_test = read_table_csv(
      (fs::path(testing::data_dir()) / "reference" / "titanic_test_wrangled.csv").string());
  const std::vector<std::string>& features = demo_features();
  TempDir out;
  EXPECT_EQ(write_png_images(tables.train, features, out.path().string(), ImageSplit::train), 891);
  EXPECT_EQ(write_png_images(tables.test, features, out.path().string(), ImageSplit::test), 418);

  struct Case {
    const Table* table;
    const Table* reference;
    ImageSplit split;
  };
  for (const Case& c : {Case{&tables.train, &ref_train, ImageSplit::train},
                        Case{&tables.test, &ref_test, ImageSplit::test}}) {
    Tensor images = encode_images(*c.table, features, 3);
    ASSERT_EQ(images.shape(), (Shape{c.table->num_rows(), 3, 6, 6}));
    const std::vector<float> v = images.to_vector();
    int64_t lit = 0;
    for (int64_t r = 0; r < c.table->num_rows(); ++r) {
      int label = 0;
      if (c.split == ImageSplit::train) label = c.reference->at(r, c.reference->column_index("survived")) != 0 ? 1 : 0;
      const std::string path = png_path(out.path().string(), c.split, r, label);
      int w = 0, h = 0, channels = 0;
      unsigned char* px = stbi_load(path.c_str(), &w, &h, &channels, 0);
      ASSERT_NE(px, nullptr) << path << ": " << stbi_failure_reason();
      ASSERT_EQ(w, 6);
      ASSERT_EQ(h, 6);
      ASSERT_EQ(channels, 3);  // 8-bit RGB
      for (int y = 0; y < 6; ++y) {
        for (int x = 0; x < 6; ++x) {
          const int k = x * 6 + y;  // the feature at this pixel, if any
          const bool on = k < 33 && c.reference->at(r, c.reference->column_index(features[static_cast<size_t>(k)])) != 0.0;
          for (int ch = 0; ch < 3; ++ch) {
            const unsigned char byte = px[(y * 6 + x) * 3 + ch];
            ASSERT_EQ(byte, on ? 255 : 0) << path << " pixel (" << x << "," << y << ")";
            ASSERT_EQ(v[static_cast<size_t>(((r * 3 + ch) * 6 + y) * 6 + x)], on ? 1.0f : 0.0f);
          }
          lit += on ? 1 : 0;
        }
      }
      stbi_image_free(px);
    }
    EXPECT_GT(lit, c.table->num_rows() * 5);  // every passenger lights several pixels
  }

  // read_png gives the same (1, 3, 6, 6) values in [0, 1] as the tensor.
  Tensor first = read_png(png_path(out.path().string(), ImageSplit::train, 0, 0), 3);
  EXPECT_EQ(first.to_vector(), encode_images(tables.train, features, 3).rows(0, 1).to_vector());
}

TEST(SquareImage, SplitsDoNotDeleteEachOther) {
  TitanicTables tables = load_titanic(testing::data_dir());
  TempDir out;
  const std::vector<std::string> features = {"sex_female", "pclass_1", "title_mr"};
  write_png_images(tables.train, features, out.path().string(), ImageSplit::train);
  write_png_images(tables.test, features, out.path().string(), ImageSplit::test);
  write_png_images(tables.train, features, out.path().string(), ImageSplit::train);
  int64_t train_files = 0, test_files = 0, other = 0;
  for (const auto& e : fs::recursive_directory_iterator(out.path())) {
    if (!e.is_regular_file()) continue;
    const std::string parent = e.path().parent_path().filename().string();
    if (e.path().extension() != ".png") ++other;  // a left-over temporary file
    (parent == "train" ? train_files : test_files) += 1;
  }
  EXPECT_EQ(train_files, 891);
  EXPECT_EQ(test_files, 418);
  EXPECT_EQ(other, 0);
  EXPECT_THROW(write_png_images(tables.test, features, out.path().string(), ImageSplit::train), Error);
}

TEST(SquareImage, ReadPngReportsUndecodableFiles) {
  TempDir dir;
  const std::string path = (dir.path() / "broken.png").string();
  std::ofstream(path, std::ios::binary) << "not a png";
  try {
    read_png(path);
    FAIL() << "expected a data error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::data);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace keel::data
