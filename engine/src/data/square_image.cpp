// Square-image encoding of feature rows, PNG writing with stb_image_write (encoded in memory, then
// written atomically) and PNG reading with stb_image. Debian's libstb ships both implementations.
#include "keel/data/square_image.h"

#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include "data/io_util.h"
#include "keel/error.h"

namespace keel::data {

namespace {

// Byte plane of one row: 255 where the feature is nonzero.
std::vector<uint8_t> row_plane(const std::vector<double>& row, const std::vector<int64_t>& index,
                               int s) {
  std::vector<uint8_t> plane(static_cast<size_t>(s) * static_cast<size_t>(s), 0);
  for (size_t k = 0; k < index.size(); ++k) {
    if (row[static_cast<size_t>(index[k])] != 0.0) {
      const Pixel p = feature_pixel(static_cast<int64_t>(k), s);
      plane[static_cast<size_t>(p.y) * static_cast<size_t>(s) + static_cast<size_t>(p.x)] = 255;
    }
  }
  return plane;
}

std::vector<int64_t> feature_indices(const Table& table, const std::vector<std::string>& features) {
  if (features.empty()) {
    throw Error(ErrorKind::config, "no features selected; an image needs at least one feature");
  }
  std::vector<int64_t> index;
  for (const auto& name : features) {
    if (!table.has_column(name)) {
      throw Error(ErrorKind::config, fmt::format("the feature \"{}\" is not a column of the table "
                                                 "({}); check the feature list",
                                                 name, fmt::join(table.columns(), ", ")));
    }
    index.push_back(table.column_index(name));
  }
  return index;
}

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                             static_cast<size_t>(size));
}

}  // namespace

int image_side(int64_t num_features) {
  if (num_features < 1) {
    throw Error(ErrorKind::config, "an image needs at least one feature");
  }
  int s = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(num_features))));
  // Guard against sqrt rounding either way for perfect squares.
  while (static_cast<int64_t>(s) * s < num_features) ++s;
  while (s > 1 && static_cast<int64_t>(s - 1) * (s - 1) >= num_features) --s;
  return s;
}

Tensor encode_images(const Table& table, const std::vector<std::string>& features, int channels) {
  if (channels != 1 && channels != 3) {
    throw Error(ErrorKind::config,
                fmt::format("images have 1 or 3 channels, not {}; set channels to 1 or 3", channels));
  }
  const std::vector<int64_t> index = feature_indices(table, features);
  const int s = image_side(static_cast<int64_t>(features.size()));
  const int64_t n = table.num_rows();
  Tensor images = Tensor::zeros(Shape{n, channels, s, s});
  float* out = images.data();
  const size_t plane = static_cast<size_t>(s) * static_cast<size_t>(s);
  for (int64_t r = 0; r < n; ++r) {
    std::vector<uint8_t> bytes = row_plane(table.row(r), index, s);
    for (int c = 0; c < channels; ++c) {
      float* dst = out + (static_cast<size_t>(r) * static_cast<size_t>(channels) + static_cast<size_t>(c)) * plane;
      for (size_t i = 0; i < plane; ++i) dst[i] = bytes[i] ? 1.0f : 0.0f;
    }
  }
  return images;
}

std::string png_path(const std::string& out_dir, ImageSplit split, int64_t row, int label) {
  namespace fs = std::filesystem;
  if (split == ImageSplit::train) {
    return (fs::path(out_dir) / "images" / "train" /
            fmt::format("{}_{}.png", label ? "survived" : "died", row))
        .string();
  }
  return (fs::path(out_dir) / "images" / "test" / fmt::format("{}.png", row)).string();
}

int64_t write_png_images(const Table& table, const std::vector<std::string>& features,
                         const std::string& out_dir, ImageSplit split) {
  const std::vector<int64_t> index = feature_indices(table, features);
  const int s = image_side(static_cast<int64_t>(features.size()));
  int64_t survived = -1;
  if (split == ImageSplit::train) {
    if (!table.has_column("survived")) {
      throw Error(ErrorKind::data, "train images are named by label, but this table has no "
                                   "survived column; pass the wrangled train table");
    }
    survived = table.column_index("survived");
  }
  std::vector<uint8_t> rgb(static_cast<size_t>(s) * static_cast<size_t>(s) * 3);
  for (int64_t r = 0; r < table.num_rows(); ++r) {
    std::vector<uint8_t> plane = row_plane(table.row(r), index, s);
    for (size_t i = 0; i < plane.size(); ++i) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = plane[i];
    std::string png;
    if (!stbi_write_png_to_func(append_bytes, &png, s, s, 3, rgb.data(), s * 3)) {
      throw Error(ErrorKind::runtime, fmt::format("PNG encoding failed for row {}", r));
    }
    const int label = survived >= 0 ? (table.at(r, survived) != 0.0 ? 1 : 0) : 0;
    detail::write_file_atomic(png_path(out_dir, split, r, label), png);
  }
  return table.num_rows();
}

Tensor read_png(const std::string& path, int channels) {
  if (channels != 1 && channels != 3) {
    throw Error(ErrorKind::config, fmt::format("read_png: 1 or 3 channels, not {}", channels));
  }
  int w = 0, h = 0, file_channels = 0;
  unsigned char* pixels = stbi_load(path.c_str(), &w, &h, &file_channels, channels);
  if (!pixels) {
    throw Error(ErrorKind::data, fmt::format("cannot decode the image {}: {}; write the images "
                                             "again (titanic_train --features-only)",
                                             path, stbi_failure_reason()));
  }
  Tensor t(Shape{1, channels, h, w});
  float* out = t.data();
  const size_t plane = static_cast<size_t>(w) * static_cast<size_t>(h);
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < channels; ++c) {
      out[static_cast<size_t>(c) * plane + i] =
          static_cast<float>(pixels[i * static_cast<size_t>(channels) + static_cast<size_t>(c)]) / 255.0f;
    }
  }
  stbi_image_free(pixels);
  return t;
}

}  // namespace keel::data
