// Row -> square image (PIPELINE.md §3): feature k of a row lights pixel (x = k / S, y = k % S) of an
// S x S image, S = ceil(sqrt(F)). In memory as an (N, C, S, S) tensor, on disk as 8-bit RGB PNGs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/data/table.h"
#include "keel/tensor.h"

namespace keel::data {

enum class ImageSplit { train, test };

// S = ceil(sqrt(num_features)), the smallest square that holds every feature (6 for 33).
int image_side(int64_t num_features);

// The pixel of feature k in an image of side s: the image is filled column by column.
struct Pixel {
  int x;  // column
  int y;  // row
};
inline Pixel feature_pixel(int64_t k, int s) {
  return {static_cast<int>(k / s), static_cast<int>(k % s)};
}

// table rows -> (N, channels, S, S) float on the CPU: 1 where the feature value is nonzero, else 0;
// pixels past the last feature are 0. channels is 1 or 3 (3: the same plane repeated, as the
// demo's RGB PNGs). Throws keel::Error (config) for an unknown feature or another channel count.
Tensor encode_images(const Table& table, const std::vector<std::string>& features, int channels = 3);

// <out_dir>/images/train/died_<row>.png or survived_<row>.png (label = the row's survived value),
// <out_dir>/images/test/<row>.png; row is the 0-based row of the table.
std::string png_path(const std::string& out_dir, ImageSplit split, int64_t row, int label = 0);

// Writes one 8-bit RGB PNG per row of `table` (for train, the table must have `survived`) into the
// split's folder, each atomically (temporary name, then rename). Files of the other split are left
// alone. Returns the number of images written.
int64_t write_png_images(const Table& table, const std::vector<std::string>& features,
                         const std::string& out_dir, ImageSplit split);

// Decodes a PNG (or any format stb_image reads) into a (1, channels, H, W) float tensor scaled to
// [0, 1] (byte / 255). Throws keel::Error (data) naming the file when it cannot be decoded.
Tensor read_png(const std::string& path, int channels = 3);

}  // namespace keel::data
